"""Train a TorchANI (2.9) model of ANI-2x's shape on our split, under a wall-clock budget, following
TorchANI's documented force-training example (examples/nnp_training_force.py): energies in Hartree,
loss = MSE(E)/sqrt(n_atoms) + 0.1 · Σ MSE(F)/n_atoms, AdamW at 1e-3, ReduceLROnPlateau(0.5),
best-validation weights kept. Differences, stated: one AdamW for all parameters (the example uses SGD
for biases) and batches of 8 frames (the example's 2,560 is for million-frame datasets).

    python torchani_train.py TRAIN.xyz VALID.xyz TEST.xyz MINUTES THREADS OUT.json
"""

import copy
import json
import sys
import time

import ase.io
import numpy as np
import torch
from torchani.units import hartree2ev
from torchani_models import ani2x_assembler

EV_TO_HARTREE = 1 / hartree2ev(1.0)


def tensors(frames):
    species = torch.tensor(np.array([f.numbers for f in frames]), dtype=torch.long)
    coordinates = torch.tensor(np.array([f.positions for f in frames]), dtype=torch.float32)
    energies = torch.tensor([f.get_potential_energy() * EV_TO_HARTREE for f in frames], dtype=torch.float64)
    forces = torch.tensor(np.array([f.get_forces() * EV_TO_HARTREE for f in frames]), dtype=torch.float32)
    return species, coordinates, energies, forces


def build(symbols, frames):
    counts = np.array([[np.sum(f.numbers == z) for z in sorted(set(frames[0].numbers))] for f in frames])
    energies = np.array([f.get_potential_energy() * EV_TO_HARTREE for f in frames])
    self_energies, *_ = np.linalg.lstsq(counts, energies, rcond=None)
    assembler = ani2x_assembler(symbols)
    assembler.set_self_energies(dict(zip(symbols, self_energies.tolist())))
    return assembler.assemble(1)


def predict(model, species, coordinates, create_graph):
    coordinates = coordinates.clone().requires_grad_(True)
    energies = model((species, coordinates)).energies
    forces = -torch.autograd.grad(energies.sum(), coordinates, create_graph=create_graph)[0]
    return energies, forces


def errors(model, data):
    species, coordinates, energies, forces = data
    predicted_e, predicted_f = [], []
    for start in range(0, len(species), 64):
        e, f = predict(model, species[start:start + 64], coordinates[start:start + 64], False)
        predicted_e.append(e.detach())
        predicted_f.append(f.detach())
    n_atoms = species.shape[1]
    de = (torch.cat(predicted_e).double() - energies).numpy() * hartree2ev(1.0)
    df = (torch.cat(predicted_f) - forces).double().numpy().ravel() * hartree2ev(1.0)
    return {"energy_mae": float(np.abs(de / n_atoms).mean()), "energy_rmse": float(np.sqrt(((de / n_atoms) ** 2).mean())),
            "energy_mae_per_structure": float(np.abs(de).mean()), "force_mae": float(np.abs(df).mean()),
            "force_rmse": float(np.sqrt((df ** 2).mean())), "n_structures": int(len(de))}


def main():
    train_path, valid_path, test_path, minutes, threads, out = sys.argv[1:7]
    torch.set_num_threads(int(threads))
    torch.manual_seed(0)
    train_frames = ase.io.read(train_path, ":")
    symbols = [s for s in ("H", "C", "N", "O") if s in set(train_frames[0].get_chemical_symbols())]
    model = build(symbols, train_frames)
    train, valid, test = tensors(train_frames), tensors(ase.io.read(valid_path, ":")), tensors(ase.io.read(test_path, ":"))
    optimiser = torch.optim.AdamW(model.parameters(), lr=1e-3)
    schedule = torch.optim.lr_scheduler.ReduceLROnPlateau(optimiser, factor=0.5, patience=100, threshold=0)
    n_atoms = train[0].shape[1]
    best, best_state, epochs, start = float("inf"), None, 0, time.perf_counter()
    generator = torch.Generator().manual_seed(0)
    while time.perf_counter() - start < 60 * float(minutes):
        for batch in torch.randperm(len(train[0]), generator=generator).split(8):
            energies, forces = predict(model, train[0][batch], train[1][batch], True)
            energy_loss = ((energies - train[2][batch]) ** 2 / n_atoms ** 0.5).mean()
            force_loss = (((forces - train[3][batch]) ** 2).sum(dim=(1, 2)) / n_atoms).mean()
            loss = energy_loss + 0.1 * force_loss
            optimiser.zero_grad()
            loss.backward()
            optimiser.step()
        epochs += 1
        valid_errors = errors(model, valid)
        schedule.step(valid_errors["energy_rmse"])
        if valid_errors["energy_rmse"] < best:
            best, best_state = valid_errors["energy_rmse"], copy.deepcopy(model.state_dict())
    model.load_state_dict(best_state)
    result = {"model": "torchani", "epochs": epochs, "train_seconds": time.perf_counter() - start, "test": errors(model, test)}
    with open(out, "w") as handle:
        json.dump(result, handle, indent=2)


if __name__ == "__main__":
    main()
