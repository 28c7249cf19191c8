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
    # weight of the dipole-component MSE, (e·Å)⁻²; above 0 the model gets a charge network beside the
    # energy one (esml.potentials.dipole) and the frames must carry dipoles
    dipole_weight: float = 0.0
    learning_rate: float = 1e-3  # AdamW's initial step size
    weight_decay: float = 1e-6  # AdamW's decoupled weight decay
    batch_size: int = 8  # structures per optimiser step
    max_epochs: int = 1000  # hard limit on passes over the training set
    patience: int = 100  # epochs without a better validation loss before stopping
    # epochs without improvement before the learning rate is halved; small validation sets are
    # noisy, and halving after 10 reached the floor early (ethanol: 23.6 → 18.8 meV/Å with 25)
    lr_patience: int = 25
    min_learning_rate: float = 1e-5  # training stops once the schedule would go below this
    max_minutes: float | None = None  # wall-clock budget over all sessions of a resumed run; the best weights so far are kept
    seed: int = 0  # initial weights and shuffling
    # Exponential moving average of the weights (e.g. 0.99, as MACE): validation, the best weights and
    # the saved model use the average, whose error is lower and steadier than the last step's.
    ema_decay: float | None = None
    # Stage two (MACE's "SWA" stage): after this share of the epochs or of the time budget, the energy
    # weight becomes stage_two_energy_weight and the step is multiplied by stage_two_lr_factor; the
    # forces have brought the shape of the surface, the energy term then settles its offsets.
    stage_two: float | None = None
    stage_two_energy_weight: float = 100.0
    stage_two_lr_factor: float = 0.1
    float64: bool = False  # train in double precision (energies of large molecules differ in the 7th digit)

    def checked(self) -> TrainConfig:
        if self.batch_size < 1 or self.max_epochs < 1:
            raise EsmlError("batch size and epochs must be at least 1")
        if not self.learning_rate > 0 or self.weight_decay < 0 or not self.min_learning_rate > 0:
            raise EsmlError(f"learning rate {self.learning_rate:g}: give a positive learning rate (e.g. --lr 1e-3)")
        if self.patience < 1 or self.lr_patience < 1:
            raise EsmlError("patience and learning-rate patience must be at least 1 epoch")
        if self.energy_weight < 0 or self.force_weight < 0 or self.energy_weight + self.force_weight == 0:
            raise EsmlError("loss weights must be non-negative and not both zero")
        if self.dipole_weight < 0:
            raise EsmlError(f"dipole weight {self.dipole_weight:g}: give a non-negative weight (e.g. --dipole-weight 10), 0 for none")
        if self.ema_decay is not None and not 0 < self.ema_decay < 1:
            raise EsmlError(f"EMA decay {self.ema_decay:g}: give a number between 0 and 1, e.g. --ema 0.99")
        if self.stage_two is not None and not 0 < self.stage_two < 1:
            raise EsmlError(f"stage two at {self.stage_two:g}: give the share of the training after which it starts, e.g. --stage-two 0.75")
        if self.stage_two_energy_weight < 0 or not 0 < self.stage_two_lr_factor <= 1:
            raise EsmlError("stage two needs a non-negative energy weight and a step factor in (0, 1]")
        return self


#: What each family trains best with, where it differs from TrainConfig's defaults. PaiNN wants a
#: smaller step; the MACE-class model MACE's recipe (EMA 0.99, a second stage weighing energies,
#: small batches), with a step halfway between MACE's 0.01 for AMSGrad and PaiNN's.
FAMILY_RECIPES: dict[str, dict] = {
    "ani": {"learning_rate": 1e-3},
    "painn": {"learning_rate": 5e-4},
    "cgcnn": {"learning_rate": 1e-3},
    "mace": {"learning_rate": 5e-3, "ema_decay": 0.99, "stage_two": 0.75, "batch_size": 5},
}


#: Settings a recipe may turn on and a user off, by giving 0.
OPTIONAL_STAGES = ("ema_decay", "stage_two")


def family_config(kind: str, **given) -> TrainConfig:
    """The family's recipe, with every setting in ``given`` that is not None taking precedence;
    0 for the moving average or stage two turns it off."""
    settings = {**FAMILY_RECIPES.get(kind, {}), **{key: value for key, value in given.items() if value is not None}}
    settings.update({key: None for key in OPTIONAL_STAGES if settings.get(key) == 0})
    return TrainConfig(**settings).checked()


@dataclass(frozen=True)
class GPConfig:
    """Settings of a sparse GP fit (:mod:`esml.training.gp`)."""

    length_scales: tuple[float, ...] = (3.0, 4.0, 8.0)  # tried in turn; the best evidence wins
    max_inducing: int = 1000  # inducing environments per element
    optimise: bool = True  # maximise the evidence over the noise and signal hyperparameters
    hyperparameters: dict = field(default_factory=lambda: {"energy_noise": 0.005, "force_noise": 0.05, "signal": 1.0})
