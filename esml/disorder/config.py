"""The settings of a localisation study of the 3D Anderson model; ``esml anderson`` reads its defaults
from here without loading the numerical libraries.

Two probes of a realisation: ``transfer`` (the default), a bar of width L whose segments' smallest
Lyapunov exponents are the samples; ``levels``, an L×L×L cube whose spacing ratios near the band
centre are (blocks of ``block`` ratios make one sample)."""

from __future__ import annotations

import math
from dataclasses import dataclass

from esml.errors import EsmlError

GOE_RATIO, POISSON_RATIO = 0.5307, 0.3863  # ⟨r⟩ of extended (GOE) and localised (Poisson) levels
PROBES = ("transfer", "levels")


def grid(start: float, stop: float, step: float) -> tuple[float, ...]:
    return tuple(round(start + k * step, 6) for k in range(int(round((stop - start) / step)) + 1))


@dataclass(frozen=True)
class AndersonStudy:
    """What is sampled, learned and fitted. The network learns from realisations at ``extended`` and
    ``localised`` disorders only; it is then applied at ``disorders`` (the scaling window) for
    ``sizes``, and at ``unseen_disorders`` for ``unseen_sizes``, sizes it never saw, to test the fit.
    Counts of samples are per (L, W): segments of bars, or spacing ratios."""

    probe: str = "transfer"
    sizes: tuple[int, ...] = (6, 8, 10, 12)
    disorders: tuple[float, ...] = grid(14.5, 18.5, 0.5)
    samples_per_point: int = 1200
    extended: tuple[float, ...] = grid(8.0, 13.0, 1.0)
    localised: tuple[float, ...] = grid(20.0, 25.0, 1.0)
    training_sizes: tuple[int, ...] = (4, 6, 8)
    training_samples: int = 400
    unseen_sizes: tuple[int, ...] = (14,)
    unseen_disorders: tuple[float, ...] = (15.5, 16.5, 17.5)
    unseen_samples: int = 400
    energy: float = 0.0  # the band centre
    aspect: int = 32  # transfer: a segment is aspect × L slices long
    segments: int = 50  # transfer: segments per bar (one realisation), after one of warm-up
    keep: int = 4  # transfer: the smallest exponents kept per segment
    # transfer: how many of them the network sees. Only the smallest: in bars this narrow the next ones
    # carry the slice's transverse-mode structure and break one-parameter scaling (benchmarks/anderson.py
    # scans 1, 2 and 4: the scaling fit's χ²/dof grows from 1.0 to 6.1)
    inputs: int = 1
    half_width: float = 1.0  # levels: the levels within ±half_width of the energy
    block: int = 32  # levels: consecutive spacing ratios the network sees at once
    order: int = 3  # of the polynomial scaling function
    epochs: int = 40
    bootstrap: int = 40  # resamplings of the realisations for the fit's uncertainty
    seed: int = 0

    @property
    def cache_name(self) -> str:
        """The cache folder of this study's realisations: one per probe and the settings that make them."""
        if self.probe == "levels":
            return f"levels-E{self.energy:g}-hw{self.half_width:g}-seed{self.seed}"
        return f"transfer-E{self.energy:g}-aspect{self.aspect}-segments{self.segments}-keep{self.keep}-seed{self.seed}"

    def checked(self) -> AndersonStudy:
        every = self.sizes + self.training_sizes + self.unseen_sizes
        if self.probe not in PROBES:
            raise EsmlError(f"--probe {self.probe!r}: choose {' or '.join(PROBES)}")
        if not self.sizes or len(set(self.sizes)) < 3:
            raise EsmlError("--sizes: give at least 3 lattice sizes for finite-size scaling, e.g. 6,8,10,12")
        if min(every) < 4:
            raise EsmlError(f"lattice size {min(every)}: give L ≥ 4 (smaller lattices are too small to scale)")
        if len(self.disorders) < 4:
            raise EsmlError("--disorders: give at least 4 disorders across the transition, e.g. 14.5:18.5:0.5")
        if not self.extended or not self.localised or max(self.extended) >= min(self.localised):
            raise EsmlError("--extended and --localised: give training disorders, every extended one below every "
                            "localised one, e.g. 8:13:1 and 20:25:1")
        counts = (self.samples_per_point, self.training_samples, self.unseen_samples, self.block, self.epochs,
                  self.aspect, self.segments, self.keep)
        if min(counts) < 1:
            raise EsmlError("sample counts, --block, --aspect, --segments, --keep and --epochs must be positive")
        if not (self.half_width > 0) or min(self.disorders + self.extended + self.localised) < 0:
            raise EsmlError("--half-width must be positive and disorders non-negative")
        if self.probe == "transfer" and self.keep > min(every) ** 2:
            raise EsmlError(f"--keep {self.keep}: a bar of width {min(every)} has only {min(every) ** 2} exponents")
        if self.probe == "transfer" and not 1 <= self.inputs <= self.keep:
            raise EsmlError(f"--inputs {self.inputs}: the network sees 1 to --keep ({self.keep}) of the smallest exponents")
        if self.probe == "levels":
            fewest = expected_ratios(min(every), max(self.disorders + self.localised + self.unseen_disorders),
                                     self.half_width)
            if fewest < self.block:
                raise EsmlError(f"L = {min(every)} gives about {fewest:.0f} spacing ratios per realisation in "
                                f"±{self.half_width} at the strongest disorder, too few for blocks of {self.block}: "
                                "raise --half-width or the smallest L, or lower --block")
        if not 1 <= self.order <= 6:
            raise EsmlError(f"--order {self.order}: give a scaling polynomial of order 1 to 6")
        return self

    def realisations_for(self, size: int, disorder: float, samples: int) -> int:
        """Realisations that give about ``samples`` samples at (L, W)."""
        if self.probe == "levels":
            return max(2, math.ceil(samples / expected_ratios(size, disorder, self.half_width)))
        return max(2, math.ceil(samples / self.segments))


# The level-statistics study's defaults: cubes up to 16³ (shift-invert beyond 12³), 8,000 ratios per point.
LEVELS = AndersonStudy(probe="levels", sizes=(8, 10, 12, 14, 16), samples_per_point=8000, training_sizes=(8, 10, 12),
                       training_samples=3000, unseen_sizes=(20,), unseen_samples=3000)


def preset(probe: str) -> AndersonStudy:
    """The defaults of a probe's study."""
    return LEVELS if probe == "levels" else AndersonStudy()


def expected_ratios(size: int, disorder: float, half_width: float) -> float:
    """About how many spacing ratios one realisation gives: the levels in the window, from a
    density of states near the band centre of 1/max(W, 7) per site and unit energy."""
    return max(1.0, size**3 * 2 * half_width / max(disorder, 7.0) - 2)
