"""Training a potential on energies and forces.

AdamW, learning rate halved when the validation loss stalls, early stopping that keeps the
best weights, an optional wall-clock budget, and a checkpoint after every epoch from which an
interrupted run resumes exactly (weights, optimiser, schedule, shuffling state).
Deterministic for a given seed and thread count.
"""

from __future__ import annotations

import copy
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
import torch

from esml.errors import EsmlError
from esml.potential import Potential, predict
from esml.training.config import TrainConfig
from esml.training.data import GraphSet
from esml.training.evaluate import set_predictions
from esml.training.loss import loss_terms


@dataclass(frozen=True)
class EpochLog:
    epoch: int
    train_loss: float
    valid_loss: float
    valid_energy_mae: float  # eV/atom
    valid_force_mae: float | None  # eV/Å
    learning_rate: float
    seconds: float
    improved: bool


def train_step(potential: Potential, optimiser: torch.optim.Optimizer, batch, config: TrainConfig) -> float:
    """One optimiser step on one batch; returns the loss."""
    use_forces = config.force_weight > 0
    prediction = predict(potential, batch.graph, forces=use_forces, create_graph=use_forces)
    terms = loss_terms(prediction.energy[0], prediction.forces[0] if use_forces else None, batch.energy,
                       batch.forces, batch.graph.n_atoms_per_structure, config.energy_weight, config.force_weight)
    optimiser.zero_grad(set_to_none=True)
    terms.total.backward()
    optimiser.step()
    return float(terms.total.detach())


def evaluate_set(potential: Potential, data: GraphSet, batch_size: int = 32, forces: bool = True) -> dict:
    """Energy and force errors of ``potential`` (mean over members) on a labeled set."""
    return set_predictions(potential, data, batch_size, forces).metrics()


def validation_loss(metrics: dict, config: TrainConfig) -> float:
    return config.energy_weight * metrics["energy_rmse"] ** 2 + config.force_weight * metrics.get("force_rmse", 0.0) ** 2


@dataclass
class TrainState:
    """Everything a resumed run needs; saved as the checkpoint."""

    epoch: int
    best_loss: float
    bad_epochs: int
    best_weights: dict
    history: list

    def to_dict(self) -> dict:
        return asdict(self)


def fit(
    potential: Potential,
    train: GraphSet,
    valid: GraphSet,
    config: TrainConfig,
    checkpoint: Path | None = None,
    on_epoch: Callable[[EpochLog], None] | None = None,
) -> list[EpochLog]:
    """Train ``potential`` in place; on return it holds the weights with the best validation loss."""
    config = config.checked()
    if config.force_weight > 0 and train.forces is None:
        raise EsmlError("the force loss is on but the data has no forces; label with forces or use --force-weight 0")
    optimiser = torch.optim.AdamW(potential.parameters(), lr=config.learning_rate, weight_decay=config.weight_decay)
    schedule = torch.optim.lr_scheduler.ReduceLROnPlateau(optimiser, factor=0.5, patience=config.lr_patience)
    shuffle = torch.Generator().manual_seed(config.seed)
    state = TrainState(0, float("inf"), 0, copy.deepcopy(potential.state_dict()), [])
    if checkpoint is not None and checkpoint.exists():
        state = resume(checkpoint, potential, optimiser, schedule, shuffle)
        if stop_reason(state, config, optimiser, 0.0) or state.epoch >= config.max_epochs:
            potential.load_state_dict(state.best_weights)
            return [EpochLog(**entry) for entry in state.history]
    start = time.perf_counter()
    while state.epoch < config.max_epochs:
        epoch_start = time.perf_counter()
        train_loss, metrics = run_epoch(potential, optimiser, train, valid, config, shuffle)
        loss = validation_loss(metrics, config)
        schedule.step(loss)
        improved = loss < state.best_loss
        state.epoch += 1
        state.bad_epochs = 0 if improved else state.bad_epochs + 1
        if improved:
            state.best_loss, state.best_weights = loss, copy.deepcopy(potential.state_dict())
        log = EpochLog(state.epoch, train_loss, loss, metrics["energy_mae"], metrics.get("force_mae"),
                       optimiser.param_groups[0]["lr"], time.perf_counter() - epoch_start, improved)
        state.history.append(asdict(log))
        if checkpoint is not None:
            save_checkpoint(checkpoint, potential, state, optimiser, schedule, shuffle)
        if on_epoch:
            on_epoch(log)
        if stop_reason(state, config, optimiser, time.perf_counter() - start):
            break
    potential.load_state_dict(state.best_weights)
    return [EpochLog(**entry) for entry in state.history]


def run_epoch(potential, optimiser, train: GraphSet, valid: GraphSet, config: TrainConfig,
              shuffle: torch.Generator) -> tuple[float, dict]:
    """One pass over the shuffled training set, then the validation errors; returns (mean loss, metrics)."""
    potential.train()
    losses = [train_step(potential, optimiser, batch, config) for batch in train.batches(config.batch_size, shuffle)]
    potential.eval()
    return float(np.mean(losses)), evaluate_set(potential, valid, forces=config.force_weight > 0)


def stop_reason(state: TrainState, config: TrainConfig, optimiser, seconds: float) -> str | None:
    if state.bad_epochs >= config.patience:
        return "no improvement"
    if optimiser.param_groups[0]["lr"] < config.min_learning_rate:
        return "learning rate at its floor"
    if config.max_minutes is not None and seconds > 60 * config.max_minutes:
        return "time budget spent"
    return None


def save_checkpoint(path: Path, potential: Potential, state: TrainState, optimiser, schedule, shuffle: torch.Generator) -> None:
    payload = {"weights": potential.state_dict(), "state": state.to_dict(), "optimiser": optimiser.state_dict(), "schedule": schedule.state_dict(),
               "shuffle": shuffle.get_state()}
    temporary = path.with_name(path.name + ".tmp")
    torch.save(payload, temporary)
    temporary.replace(path)


def resume(path: Path, potential: Potential, optimiser, schedule, shuffle: torch.Generator) -> TrainState:
    payload = torch.load(path, map_location="cpu", weights_only=True)
    state = TrainState(**payload["state"])
    potential.load_state_dict(payload["weights"])
    optimiser.load_state_dict(payload["optimiser"])
    schedule.load_state_dict(payload["schedule"])
    shuffle.set_state(payload["shuffle"])
    return state
