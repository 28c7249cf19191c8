"""The settings of an active-learning run, apart from the loop so that the command line reads its
defaults without importing torch."""

from __future__ import annotations

from dataclasses import asdict, dataclass

from esml.errors import EsmlError
from esml.methods import MethodSpec
from esml.training.config import GPConfig


@dataclass(frozen=True)
class WalkSettings:
    """The MD of one walker in one round (Langevin at the walker's temperature)."""

    steps: int = 400
    interval: int = 10
    timestep_fs: float = 0.5
    friction_per_fs: float = 0.01
    equilibration_fs: float = 200.0  # two relaxation times of the thermostat (1/friction)


@dataclass(frozen=True)
class LearnConfig:
    """Everything a run is started with; ``esml learn`` reads its option defaults from here."""

    oracle: str = "gfn2-xtb"  # reference method string (density fitting where it applies: methods.parse_reference)
    initial_guess: str = MethodSpec.initial_guess  # where the oracle's SCF starts (PySCF methods only)
    target_force_mae: float = 0.05  # eV/Å
    temperatures: tuple[float, ...] = (300.0, 600.0)
    budget: int = 500  # oracle calls, validation included
    walkers_per_temperature: int = 2
    walk: WalkSettings = WalkSettings()
    batch_size: int = 8  # new labels per round at most
    n_seed: int = 4
    seed_rattle: float = 0.05  # Å, Gaussian displacements of the seed frames
    n_validation: int = 20
    validation_refresh: float = 2.0  # draw the validation set again once the training set grew this much (0: never)
    runaway_factor: float = 4.0  # a walker stops when its score passes this × the target
    max_rounds: int = 100
    gp: GPConfig = GPConfig()
    baseline: str | None = "auto"  # the correction is learned on top of it (esml.potentials.delta); see resolve_baseline
    workers: int = 1
    scheduler: str | None = None
    charge: int | None = None
    multiplicity: int | None = None
    seed: int = 0

    def checked(self) -> LearnConfig:
        """This configuration, or one line saying which setting cannot work."""
        if 0 < self.validation_refresh <= 1:
            raise EsmlError(f"--validation-refresh {self.validation_refresh:g} would draw a new validation set every round; "
                            "give a growth factor above 1 (e.g. 2) or 0 for never")
        if not self.temperatures or any(t <= 0 for t in self.temperatures):
            raise EsmlError(f"temperatures {self.temperatures}: give one or more positive temperatures in K, e.g. 300,600")
        if self.target_force_mae <= 0 or self.budget < 1 or self.n_validation < 2:
            raise EsmlError("the target force MAE must be positive, the budget at least 1 and the validation set at least 2 frames")
        least = self.n_seed + len(self.temperatures)
        if self.budget < least:
            raise EsmlError(f"--budget {self.budget} leaves no room to learn: the {self.n_seed} seed frames and one validation "
                            f"frame per temperature already take {least}; give a budget of at least {least + 1}")
        return self

    def to_json(self) -> dict:
        return asdict(self)

    @classmethod
    def from_json(cls, data: dict) -> LearnConfig:
        data = dict(data)
        data["temperatures"] = tuple(data["temperatures"])
        data["walk"] = WalkSettings(**data["walk"])
        gp = dict(data["gp"])
        gp["length_scales"] = tuple(gp["length_scales"])
        data["gp"] = GPConfig(**gp)
        return cls(**data)
