"""The settings of a VMC run: the ansatz, the optimiser and the run itself, apart from the code
so that the command line reads its defaults (and refuses bad values) without importing torch."""

from __future__ import annotations

from dataclasses import dataclass, field

from esml.errors import EsmlError

DEFAULT_BASIS = "cc-pvtz"
BASELINES = ("casscf", "hf")
# SR at 0.6 was best on H2 but made LiH's local energies spread from 0.6 to 3 Ha within 500 steps;
# at 0.1 LiH and He both converge, He with a smaller variance than at 0.6 (BENCHMARKS.md).
DEFAULT_RATES = {"sr": 0.1, "adam": 3e-3}


@dataclass(frozen=True)
class AnsatzConfig:
    width: int = 32  # size of each electron's embedding h_i
    layers: int = 2  # electron–electron interaction layers
    gaussians: int = 16  # Gaussians exp(-r²/L²) per distance, L from 0.1 to 8 Bohr
    determinants: int = 4  # copies of a single-determinant baseline, each with its own backflow
    jastrow_width: int = 32


@dataclass(frozen=True)
class OptimizerConfig:
    name: str = "sr"  # "sr" or "adam"
    learning_rate: float = DEFAULT_RATES["sr"]  # sr: step along the natural gradient
    decay_steps: float = 1000.0  # the rate falls as 1 / (1 + step / decay_steps)
    damping: float = 1e-3  # λ added to the sample-space matrix
    max_norm: float = 0.1  # trust region of an SR step, δᵀSδ


@dataclass(frozen=True)
class VMCConfig:
    steps: int = 2000  # optimisation steps
    batch: int = 512  # walkers
    sweeps: int = 5  # MALA moves between optimisation steps (decorrelation)
    equilibration: int = 200  # MALA moves before the first step
    clip: float = 5.0  # local energies beyond median ± clip × mean |E_L - median| are clipped in the gradient
    evaluation_steps: int = 400  # sampling steps with frozen parameters for the final energy
    checkpoint_every: int = 100
    max_seconds: float | None = None  # wall time of optimisation and evaluation together (optimising stops in time)
    baseline: str = "casscf"  # or "hf" (``orbitals.BASELINES``)
    basis: str = DEFAULT_BASIS  # of the baseline
    seed: int = 0
    ansatz: AnsatzConfig = field(default_factory=AnsatzConfig)
    optimizer: OptimizerConfig = field(default_factory=OptimizerConfig)

    def checked(self) -> VMCConfig:
        """This configuration, or one line saying which setting cannot work."""
        if self.optimizer.name not in DEFAULT_RATES:
            raise EsmlError(f"--optimizer {self.optimizer.name!r}: use {' or '.join(DEFAULT_RATES)}")
        if self.baseline not in BASELINES:
            raise EsmlError(f"--baseline {self.baseline!r}: use {' or '.join(BASELINES)}")
        if self.batch < 2 or self.evaluation_steps < 2 or self.steps < 0:
            raise EsmlError("VMC needs at least 2 walkers and 2 evaluation steps, and no negative step count")
        return self
