"""The settings of training runs (neural potentials, the sparse GP), apart from the training
itself so that the command line reads its defaults without importing torch."""

from __future__ import annotations

from dataclasses import dataclass, field

from esml.errors import EsmlError


@dataclass(frozen=True)
class TrainConfig:
    """Settings of one training run; every key documented, unknown keys are an error."""

    energy_weight: float = 1.0  # weight of the energy-per-atom MSE, (eV/atom)⁻²
    force_weight: float = 10.0  # weight of the force-component MSE, (eV/Å)⁻²; 0 trains on energies only
    learning_rate: float = 1e-3  # AdamW's initial step size
    weight_decay: float = 1e-6  # AdamW's decoupled weight decay
    batch_size: int = 8  # structures per optimiser step
    max_epochs: int = 1000  # hard limit on passes over the training set
    patience: int = 100  # epochs without a better validation loss before stopping
    # epochs without improvement before the learning rate is halved; small validation sets are
    # noisy, and halving after 10 reached the floor early (ethanol: 23.6 → 18.8 meV/Å with 25)
    lr_patience: int = 25
    min_learning_rate: float = 1e-5  # training stops once the schedule would go below this
    max_minutes: float | None = None  # wall-clock budget; the best weights so far are kept
    seed: int = 0  # initial weights and shuffling

    def checked(self) -> TrainConfig:
        if self.batch_size < 1 or self.max_epochs < 1:
            raise EsmlError("batch size and epochs must be at least 1")
        if not self.learning_rate > 0 or self.weight_decay < 0 or not self.min_learning_rate > 0:
            raise EsmlError(f"learning rate {self.learning_rate:g}: give a positive learning rate (e.g. --lr 1e-3)")
        if self.patience < 1 or self.lr_patience < 1:
            raise EsmlError("patience and learning-rate patience must be at least 1 epoch")
        if self.energy_weight < 0 or self.force_weight < 0 or self.energy_weight + self.force_weight == 0:
            raise EsmlError("loss weights must be non-negative and not both zero")
        return self


@dataclass(frozen=True)
class GPConfig:
    """Settings of a sparse GP fit (:mod:`esml.training.gp`)."""

    length_scales: tuple[float, ...] = (3.0, 4.0, 8.0)  # tried in turn; the best evidence wins
    max_inducing: int = 1000  # inducing environments per element
    optimise: bool = True  # maximise the evidence over the noise and signal hyperparameters
    hyperparameters: dict = field(default_factory=lambda: {"energy_noise": 0.005, "force_noise": 0.05, "signal": 1.0})
