"""Fitting a :class:`HamiltonianModel` to converged Fock matrices, within a time budget, resumable.

The error that matters is the one the eigenproblem sees: in the converged orbitals' basis,
Cᵀ ΔF C. In the AO basis a small error along a nearly linearly dependent combination of basis
functions becomes a large one there (S⁻¹ amplifies it), enough to pull a virtual orbital below the
occupied ones; an element-wise AO loss leaves such errors unchecked. An SCF started from the
predicted matrix also has to undo the occupied–virtual mixing the error causes: to first order the
rotation κ_ia = (Cᵀ ΔF C)_ia / (ε_a − ε_i). So each molecule's loss has two terms, each relative to
the minao baseline's (1 for a model that predicts no correction): the mean squared error in the
orbital basis and the mean squared rotation, weighted by ``FitSettings.rotation_weight``. The
model's file keeps the epoch with the lowest validation loss.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import NamedTuple

import numpy as np
import scipy.linalg
import torch

from esml.atomic import write_atomically
from esml.hamiltonians.data import Sample
from esml.hamiltonians.model import HamiltonianModel


@dataclass(frozen=True)
class FitSettings:
    """minutes: training budget (wall time); batch: molecules per step; learning_rate: Adam's at the
    start, decayed by a cosine over the budget; validation: fraction of molecules held out;
    rotation_weight: of the orbital-rotation term (0: Fock elements only); seed."""

    minutes: float = 30.0
    batch: int = 8
    learning_rate: float = 3e-3
    validation: float = 0.1
    rotation_weight: float = 1.0
    seed: int = 0


def save_model(path: Path, model: HamiltonianModel, scores: dict) -> None:
    payload = {"kind": "esml-hamiltonian", "config": model.config(), "state": model.state_dict(), "scores": scores}
    write_atomically(Path(path), lambda temporary: torch.save(payload, temporary))


def load_model(path: Path) -> tuple[HamiltonianModel, dict]:
    payload = torch.load(path, map_location="cpu", weights_only=False)
    model = HamiltonianModel.from_config(payload["config"])
    model.load_state_dict(payload["state"])
    return model.eval(), payload["scores"]


class Target(NamedTuple):
    """What one molecule is fitted to (float32): the correction to the baseline (n_ao, n_ao), the
    converged orbitals C (n_ao, n_ao; occupied first), 1/(ε_a − ε_i) (n_occ, n_vir), and the
    baseline's own mean squared orbital-basis error and rotation, by which the loss's terms are divided."""

    numbers: torch.Tensor
    positions: torch.Tensor
    correction: torch.Tensor
    orbitals: torch.Tensor
    inverse_gaps: torch.Tensor
    baseline_error: float
    baseline_rotation: float


def in_orbitals(error: torch.Tensor, target: Target) -> torch.Tensor:
    """An AO-basis matrix in the converged orbitals' basis, Cᵀ X C."""
    return target.orbitals.T @ error @ target.orbitals


def rotation(orbital_error: torch.Tensor, target: Target) -> torch.Tensor:
    """The first-order occupied–virtual rotation (n_occ, n_vir) caused by an error given in the
    orbitals' basis."""
    occupied = target.inverse_gaps.shape[0]
    return orbital_error[:occupied, occupied:] * target.inverse_gaps


def target_of(sample: Sample) -> Target:
    energies, orbitals = scipy.linalg.eigh(sample.fock, sample.overlap)
    occupied = sample.n_occupied
    correction = torch.from_numpy(sample.fock - sample.baseline).float()
    partial = Target(torch.from_numpy(sample.numbers).long(), torch.from_numpy(sample.positions).float(), correction,
                     torch.from_numpy(orbitals).float(),
                     torch.from_numpy(1 / (energies[None, occupied:] - energies[:occupied, None])).float(), 1.0, 1.0)
    baseline = in_orbitals(correction, partial)
    return partial._replace(baseline_error=(baseline**2).mean().item(), baseline_rotation=(rotation(baseline, partial) ** 2).mean().item())


def molecule_loss(predicted: torch.Tensor, target: Target, rotation_weight: float) -> torch.Tensor:
    return orbital_loss(in_orbitals(predicted - target.correction, target), target, rotation_weight)


def orbital_loss(orbital_error: torch.Tensor, target: Target, rotation_weight: float) -> torch.Tensor:
    """The loss of an error already in the orbitals' basis."""
    return ((orbital_error**2).mean() / target.baseline_error
            + rotation_weight * (rotation(orbital_error, target) ** 2).mean() / target.baseline_rotation)


def batch_loss(model: HamiltonianModel, batch: Sequence[Target], rotation_weight: float = 1.0) -> torch.Tensor:
    """Mean over the molecules of each one's loss, in one pass of the model (a block-diagonal
    matrix: a step's cost is mostly the number of operations, not their size)."""
    numbers = torch.cat([target.numbers for target in batch])
    positions = torch.cat([target.positions for target in batch])
    molecule = torch.cat([torch.full((len(target.numbers),), k) for k, target in enumerate(batch)])
    predicted = model(numbers, positions, molecule)
    losses, start = [], 0
    for target in batch:
        end = start + len(target.correction)
        losses.append(molecule_loss(predicted[start:end, start:end], target, rotation_weight))
        start = end
    return torch.stack(losses).mean()


def validation_scores(model: HamiltonianModel, targets: Sequence[Target], rotation_weight: float) -> dict:
    """Over ``targets``: the mean loss, the AO Fock elements' mean absolute error (Hartree, the
    published measure), the orbital-basis error's RMS (Hartree) and the rotation's RMS."""
    losses, errors, orbital_errors, rotations = [], [], [], []
    with torch.no_grad():
        for target in targets:
            predicted = model(target.numbers, target.positions)
            orbital_error = in_orbitals(predicted - target.correction, target)
            losses.append(orbital_loss(orbital_error, target, rotation_weight).item())
            errors.append((predicted - target.correction).abs().mean().item())
            orbital_errors.append((orbital_error**2).mean().item())
            rotations.append((rotation(orbital_error, target) ** 2).mean().item())
    return {"validation_loss": float(np.mean(losses)), "validation_mae": float(np.mean(errors)),
            "validation_orbital_rms": math.sqrt(np.mean(orbital_errors)), "validation_rotation_rms": math.sqrt(np.mean(rotations))}


def fit(model: HamiltonianModel, samples: Sequence[Sample], settings: FitSettings, checkpoint: Path, output: Path,
        progress: Callable[[str], None] = print) -> dict:
    """Train until ``settings.minutes`` of training have passed (counting earlier runs that wrote
    ``checkpoint``), keep the best epoch in ``output``; returns the history and scores."""
    rng = np.random.default_rng(settings.seed)
    order = rng.permutation(len(samples))
    n_validation = max(1, int(round(settings.validation * len(samples))))
    validation = [target_of(samples[i]) for i in order[:n_validation]]
    training = [target_of(samples[i]) for i in order[n_validation:]]
    optimiser = torch.optim.Adam(model.parameters(), lr=settings.learning_rate)
    state = {"epoch": 0, "seconds": 0.0, "best": math.inf, "history": []}
    if checkpoint.exists():
        saved = torch.load(checkpoint, map_location="cpu", weights_only=False)
        model.load_state_dict(saved["model"])
        optimiser.load_state_dict(saved["optimiser"])
        state = saved["state"]
    budget = settings.minutes * 60
    while state["seconds"] < budget:
        began = time.perf_counter()
        model.train()
        losses = []
        for start in range(0, len(training), settings.batch):
            for group in optimiser.param_groups:
                group["lr"] = settings.learning_rate * 0.5 * (1 + math.cos(math.pi * min(1.0, state["seconds"] / budget)))
            optimiser.zero_grad()
            batch = [training[k] for k in rng.permutation(len(training))[start:start + settings.batch]]
            loss = batch_loss(model, batch, settings.rotation_weight)
            loss.backward()
            optimiser.step()
            losses.append(loss.item())
        model.eval()
        scores = validation_scores(model, validation, settings.rotation_weight)
        state["seconds"] += time.perf_counter() - began
        state["epoch"] += 1
        state["history"].append({"epoch": state["epoch"], "seconds": state["seconds"], "train_loss": float(np.mean(losses)), **scores})
        progress(f"epoch {state['epoch']}: train loss {np.mean(losses):.4f}, validation loss {scores['validation_loss']:.4f}, "
                 f"Fock MAE {scores['validation_mae'] * 1e3:.3f} mEh, orbital-basis RMS {scores['validation_orbital_rms'] * 1e3:.1f} mEh, rotation RMS {scores['validation_rotation_rms']:.2e}, "
                 f"{state['seconds'] / 60:.1f}/{settings.minutes:g} min")
        if scores["validation_loss"] < state["best"]:
            state["best"] = scores["validation_loss"]
            save_model(output, model, {**scores, "epoch": state["epoch"], "molecules": len(samples), "settings": asdict(settings)})
        write_atomically(checkpoint, lambda temporary: torch.save(
            {"model": model.state_dict(), "optimiser": optimiser.state_dict(), "state": state}, temporary))
    return state
