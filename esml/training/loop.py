"""Training a potential on energies and forces.

AdamW, learning rate halved when the validation loss stalls, early stopping that keeps the
best weights, an optional wall-clock budget, and a checkpoint after every epoch from which an
interrupted run resumes exactly (weights, optimiser, schedule, shuffling state). Optionally an
exponential moving average of the weights and a second stage with a larger energy weight
(MACE's recipe, :class:`~esml.training.config.TrainConfig`).
Deterministic for a given seed and thread count.
"""

from __future__ import annotations

import copy
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, replace
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
    dipole = potential.dipole(batch.graph, batch.charge)[0] if config.dipole_weight > 0 else None
    terms = loss_terms(prediction.energy[0], prediction.forces[0] if use_forces else None, batch.energy,
                       batch.forces, batch.graph.n_atoms_per_structure, config.energy_weight, config.force_weight,
                       dipole, batch.dipole, config.dipole_weight)
    optimiser.zero_grad(set_to_none=True)
    terms.total.backward()
    optimiser.step()
    return float(terms.total.detach())


def evaluate_set(potential: Potential, data: GraphSet, batch_size: int = 32, forces: bool = True) -> dict:
    """Energy and force errors of ``potential`` (mean over members) on a labeled set."""
    return set_predictions(potential, data, batch_size, forces).metrics()


def validation_loss(metrics: dict, config: TrainConfig) -> float:
    return (config.energy_weight * metrics["energy_rmse"] ** 2 + config.force_weight * metrics.get("force_rmse", 0.0) ** 2
            + config.dipole_weight * metrics.get("dipole_rmse", 0.0) ** 2)


class MovingAverage:
    """An exponential moving average of a model's weights, held in a copy of the model that can be
    evaluated and saved; parameters are matched by name."""

    def __init__(self, potential: Potential, decay: float):
        self.decay = decay
        self.module = copy.deepcopy(potential).requires_grad_(False)

    @torch.no_grad()
    def update(self, potential: Potential) -> None:
        current = dict(potential.named_parameters())
        for name, average in self.module.named_parameters():
            average.lerp_(current[name], 1.0 - self.decay)


@dataclass
class TrainState:
    """Everything a resumed run needs; saved as the checkpoint."""

    epoch: int
    best_loss: float
    bad_epochs: int
    best_weights: dict
    history: list
    seconds: float = 0.0  # training time over every session of the run (the budget counts all of them)
    stage_two: bool = False

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
    """Train ``potential`` in place; on return it holds the weights with the best validation loss
    (of the moving average, where there is one)."""
    config = config.checked()
    if config.force_weight > 0 and train.forces is None:
        raise EsmlError("the force loss is on but the data has no forces; label with forces or use --force-weight 0")
    if config.dipole_weight > 0 and (train.dipole is None or not potential.predicts_dipole):
        raise EsmlError("the dipole loss is on but the data has no dipoles or the model no charge network; "
                        "label with HF, DFT or xTB and train with --dipole-weight")
    optimiser = torch.optim.AdamW(potential.parameters(), lr=config.learning_rate, weight_decay=config.weight_decay)
    schedule = torch.optim.lr_scheduler.ReduceLROnPlateau(optimiser, factor=0.5, patience=config.lr_patience)
    average = None if config.ema_decay is None else MovingAverage(potential, config.ema_decay)
    shuffle = torch.Generator().manual_seed(config.seed)
    state = TrainState(0, float("inf"), 0, copy.deepcopy(potential.state_dict()), [])
    if checkpoint is not None and checkpoint.exists():
        state = resume(checkpoint, potential, optimiser, schedule, shuffle, average)
        if stop_reason(state, config, optimiser) or state.epoch >= config.max_epochs:
            potential.load_state_dict(state.best_weights)
            return [EpochLog(**entry) for entry in state.history]
    while state.epoch < config.max_epochs:
        if not state.stage_two and stage_two_due(state, config):
            schedule = begin_stage_two(state, config, optimiser)
        stage = stage_config(config, state)
        epoch_start = time.perf_counter()
        train_loss = train_epoch(potential, optimiser, train, stage, shuffle, average)
        evaluated = potential if average is None else average.module
        metrics = evaluate_set(evaluated, valid, forces=config.force_weight > 0)
        loss = validation_loss(metrics, stage)
        schedule.step(loss)
        improved = loss < state.best_loss
        state.epoch += 1
        state.bad_epochs = 0 if improved else state.bad_epochs + 1
        if improved:
            state.best_loss, state.best_weights = loss, copy.deepcopy(evaluated.state_dict())
        seconds = time.perf_counter() - epoch_start
        state.seconds += seconds
        log = EpochLog(state.epoch, train_loss, loss, metrics["energy_mae"], metrics.get("force_mae"),
                       optimiser.param_groups[0]["lr"], seconds, improved)
        state.history.append(asdict(log))
        if checkpoint is not None:
            save_checkpoint(checkpoint, potential, state, optimiser, schedule, shuffle, average)
        if on_epoch:
            on_epoch(log)
        if stop_reason(state, config, optimiser):
            break
    potential.load_state_dict(state.best_weights)
    return [EpochLog(**entry) for entry in state.history]


def stage_config(config: TrainConfig, state: TrainState) -> TrainConfig:
    """The loss weights of the stage the run is in."""
    return replace(config, energy_weight=config.stage_two_energy_weight) if state.stage_two else config


def stage_two_due(state: TrainState, config: TrainConfig) -> bool:
    if config.stage_two is None:
        return False
    by_epochs = state.epoch >= config.stage_two * config.max_epochs
    by_time = config.max_minutes is not None and state.seconds >= config.stage_two * 60 * config.max_minutes
    return by_epochs or by_time


def begin_stage_two(state: TrainState, config: TrainConfig, optimiser):
    """Lower the step, and start the search for the best weights afresh: this stage's validation loss
    weighs energies differently, so it cannot be compared with the first stage's. Returns a new plateau schedule."""
    for group in optimiser.param_groups:
        group["lr"] *= config.stage_two_lr_factor
    state.stage_two, state.best_loss, state.bad_epochs = True, float("inf"), 0
    return torch.optim.lr_scheduler.ReduceLROnPlateau(optimiser, factor=0.5, patience=config.lr_patience)


def train_epoch(potential, optimiser, train: GraphSet, config: TrainConfig, shuffle: torch.Generator,
                average: MovingAverage | None) -> float:
    """One pass over the shuffled training set; returns the mean loss."""
    potential.train()
    losses = []
    for batch in train.batches(config.batch_size, shuffle):
        losses.append(train_step(potential, optimiser, batch, config))
        if average is not None:
            average.update(potential)
    potential.eval()
    return float(np.mean(losses))


def stop_reason(state: TrainState, config: TrainConfig, optimiser) -> str | None:
    if state.bad_epochs >= config.patience:
        return "no improvement"
    if optimiser.param_groups[0]["lr"] < config.min_learning_rate:
        return "learning rate at its floor"
    if config.max_minutes is not None and state.seconds > 60 * config.max_minutes:
        return "time budget spent"
    return None


def save_checkpoint(path: Path, potential: Potential, state: TrainState, optimiser, schedule, shuffle: torch.Generator,
                    average: MovingAverage | None = None) -> None:
    payload = {"weights": potential.state_dict(), "state": state.to_dict(), "optimiser": optimiser.state_dict(), "schedule": schedule.state_dict(),
               "shuffle": shuffle.get_state(), "average": None if average is None else average.module.state_dict()}
    temporary = path.with_name(path.name + ".tmp")
    torch.save(payload, temporary)
    temporary.replace(path)


def resume(path: Path, potential: Potential, optimiser, schedule, shuffle: torch.Generator,
           average: MovingAverage | None = None) -> TrainState:
    payload = torch.load(path, map_location="cpu", weights_only=True)
    state = TrainState(**payload["state"])
    potential.load_state_dict(payload["weights"])
    optimiser.load_state_dict(payload["optimiser"])
    schedule.load_state_dict(payload["schedule"])
    shuffle.set_state(payload["shuffle"])
    if average is not None and payload.get("average") is not None:
        average.module.load_state_dict(payload["average"])
    return state
