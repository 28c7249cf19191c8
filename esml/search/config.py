"""The settings of a search and of training a search policy; ``esml search`` and ``esml search-policy``
read their defaults from here without loading the search's numerical libraries."""

from __future__ import annotations

from dataclasses import dataclass

from esml.errors import EsmlError

# Basin hopping's step (× the spacing of neighbouring units) and kT (× the binding energy per unit),
# tuned on LJ26, LJ30 and LJ34 by benchmarks/search_lj.py (0.44 σ and about 0.42 ε at LJ38).
BASIN_HOPPING_STEP = 0.4
BASIN_HOPPING_TEMPERATURE = 0.1


@dataclass(frozen=True)
class SearchConfig:
    """One search; ``esml search`` reads its defaults from here. Energies in eV, forces in eV/Å."""

    evaluations: int = 100_000  # the cap on energy-and-forces calls, relaxations included
    target: float | None = None  # stop once the best energy is within `tolerance` of this
    tolerance: float = 1e-4
    fmax: float = 0.01  # a relaxation ends when no force component exceeds this
    relax_steps: int = 2000
    keep: int = 20  # distinct lowest minima kept in minima.xyz
    checkpoint_hops: int = 50
    seed: int = 0

    def checked(self) -> SearchConfig:
        if self.evaluations < 1 or self.relax_steps < 1 or self.keep < 1 or self.checkpoint_hops < 1:
            raise EsmlError("--evaluations, relaxation steps, --keep and checkpoint interval must be positive")
        if not (self.fmax > 0 and self.tolerance > 0):
            raise EsmlError("--fmax and --tolerance must be positive")
        return self



@dataclass(frozen=True)
class PolicyTraining:
    """Settings of :func:`train_policy`; ``esml search-policy`` reads its defaults from here."""

    sizes: tuple[int, ...] = (26, 30, 34)  # Lennard-Jones cluster sizes trained on
    generations: int = 12
    pairs: int = 4  # antithetic pairs of perturbations per generation
    episodes: int = 2  # searches per size for each perturbation (the same seeds for all of a generation)
    evaluations: int = 60_000  # cap of one training search
    reference_evaluations: int = 200_000  # cap of each reference search that sets a size's target
    noise: float = 0.5  # standard deviation of the weight perturbations
    learning_rate: float = 0.5
    seed: int = 0

    def checked(self) -> PolicyTraining:
        if not self.sizes or min(self.sizes) < 3:
            raise EsmlError("--sizes: give cluster sizes of at least 3 atoms, e.g. 26,30,34")
        if min(self.generations, self.pairs, self.episodes, self.evaluations, self.reference_evaluations) < 1:
            raise EsmlError("generations, pairs, episodes and evaluation caps must be positive")
        if not (self.noise > 0 and self.learning_rate > 0):
            raise EsmlError("--noise and --learning-rate must be positive")
        return self
