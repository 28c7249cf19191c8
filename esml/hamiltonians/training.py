"""Fitting a :class:`HamiltonianModel` to converged Fock matrices, within a time budget, resumable.

The loss is the mean squared error of the Fock matrix's elements (Hartree²) per molecule; the
model's file keeps the epoch with the lowest validation error.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
import torch

from esml.atomic import write_atomically
from esml.hamiltonians.data import Sample
from esml.hamiltonians.model import HamiltonianModel


@dataclass(frozen=True)
class FitSettings:
    """minutes: training budget (wall time); batch: molecules per step; learning_rate: Adam's at the
    start, decayed by a cosine over the budget; validation: fraction of molecules held out; seed."""

    minutes: float = 30.0
    batch: int = 8
    learning_rate: float = 3e-3
    validation: float = 0.1
    seed: int = 0


def save_model(path: Path, model: HamiltonianModel, scores: dict) -> None:
    payload = {"kind": "esml-hamiltonian", "config": model.config(), "state": model.state_dict(), "scores": scores}
    write_atomically(Path(path), lambda temporary: torch.save(payload, temporary))


def load_model(path: Path) -> tuple[HamiltonianModel, dict]:
    payload = torch.load(path, map_location="cpu", weights_only=False)
    model = HamiltonianModel.from_config(payload["config"])
    model.load_state_dict(payload["state"])
    return model.eval(), payload["scores"]


def _tensors(sample: Sample) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    return (torch.from_numpy(sample.numbers).long(), torch.from_numpy(sample.positions).float(),
            torch.from_numpy(sample.fock - sample.baseline).float())


def batch_loss(model: HamiltonianModel, batch: Sequence[tuple]) -> torch.Tensor:
    """Mean over the molecules of each one's mean squared matrix error, in one pass of the model
    (a block-diagonal matrix: a step's cost is mostly the number of operations, not their size)."""
    numbers = torch.cat([item[0] for item in batch])
    positions = torch.cat([item[1] for item in batch])
    molecule = torch.cat([torch.full((len(item[0]),), k) for k, item in enumerate(batch)])
    predicted = model(numbers, positions, molecule)
    losses, start = [], 0
    for _, _, target in batch:
        end = start + len(target)
        losses.append(((predicted[start:end, start:end] - target) ** 2).mean())
        start = end
    return torch.stack(losses).mean()


def matrix_error(model: HamiltonianModel, samples: Sequence[Sample]) -> float:
    """Mean absolute error of the Fock matrix's elements over ``samples`` (Hartree)."""
    with torch.no_grad():
        errors = [(model(numbers, positions) - target).abs().mean().item() for numbers, positions, target in map(_tensors, samples)]
    return float(np.mean(errors))


def fit(model: HamiltonianModel, samples: Sequence[Sample], settings: FitSettings, checkpoint: Path, output: Path,
        progress: Callable[[str], None] = print) -> dict:
    """Train until ``settings.minutes`` of training have passed (counting earlier runs that wrote
    ``checkpoint``), keep the best epoch in ``output``; returns the history and scores."""
    rng = np.random.default_rng(settings.seed)
    order = rng.permutation(len(samples))
    n_validation = max(1, int(round(settings.validation * len(samples))))
    validation = [samples[i] for i in order[:n_validation]]
    training = [_tensors(samples[i]) for i in order[n_validation:]]
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
            loss = batch_loss(model, batch)
            loss.backward()
            optimiser.step()
            losses.append(loss.item())
        model.eval()
        error = matrix_error(model, validation)
        state["seconds"] += time.perf_counter() - began
        state["epoch"] += 1
        state["history"].append({"epoch": state["epoch"], "seconds": state["seconds"], "train_rmse": math.sqrt(np.mean(losses)),
                                 "validation_mae": error})
        progress(f"epoch {state['epoch']}: train RMSE {math.sqrt(np.mean(losses)) * 1e3:.3f} mEh, "
                 f"validation MAE {error * 1e3:.3f} mEh, {state['seconds'] / 60:.1f}/{settings.minutes:g} min")
        if error < state["best"]:
            state["best"] = error
            save_model(output, model, {"validation_mae": error, "epoch": state["epoch"], "molecules": len(samples),
                                       "settings": asdict(settings)})
        write_atomically(checkpoint, lambda temporary: torch.save(
            {"model": model.state_dict(), "optimiser": optimiser.state_dict(), "state": state}, temporary))
    return state
