"""MD walkers that explore with the model being learned and report how unsure it is on the way.

A walker runs Langevin MD at its temperature with the current model. Every ``interval`` steps
it records the frame and the model's score there: the expected force error (eV/Å) from the
calibrated σ. A walker whose score runs past the runaway level stops at once, before it can sample
nonsense; the frame where it stopped is kept (it is the most informative one to label, as in
FLARE). A walker whose bonds break or form also stops, and that frame is dropped: far from the
data a GP's σ saturates at its prior, so σ alone cannot flag a molecule torn apart, and such a
frame (forces of hundreds of eV/Å) would only teach the model about wreckage. The next round
restarts the walker from its last trusted frame, the last one whose score was under the
selection threshold.

A walker at rest (at the start, or sent back to it because no frame of its own was trusted yet)
draws its momenta at its temperature. From a minimum, equipartition then leaves it at about half
that temperature until the thermostat has fed it the rest, which takes about two relaxation times
(1/friction; 200 fs at the default friction). Frames from that warm-up are cold; each visit records
how long its walker has run since its momenta were drawn, so that the validation frames can be
drawn from equilibrated MD only.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np
from ase import Atoms
from ase.calculators.calculator import Calculator

from esml.active.config import WalkSettings
from esml.errors import StructureError
from esml.simulate.dynamics import MDSettings, bonds_intact, trajectory


@dataclass
class Walker:
    """``atoms`` carries positions and momenta; ``trusted`` is where a runaway walker restarts.
    ``warm_fs`` is the MD time since the walker's momenta were drawn (0: at rest, draw them);
    ``trusted_warm_fs`` the same at the trusted frame."""

    index: int
    temperature_K: float
    atoms: Atoms
    trusted: Atoms
    warm_fs: float = 0.0
    trusted_warm_fs: float = 0.0


@dataclass(frozen=True)
class Visit:
    """A frame a walker passed through, with the model's score there (expected force MAE, eV/Å);
    ``stopped`` marks the frame where a runaway walker was stopped; ``equilibrated`` that its
    walker had run at least ``WalkSettings.equilibration_fs`` since its momenta were drawn."""

    atoms: Atoms
    walker: int
    temperature_K: float
    score: float
    stopped: bool = False
    equilibrated: bool = True


@dataclass
class Walk:
    visits: list[Visit] = field(default_factory=list)
    ran_away: bool = False


def start_walkers(start: Atoms, temperatures: list[float], per_temperature: int) -> list[Walker]:
    walkers = []
    for temperature in temperatures:
        for _ in range(per_temperature):
            walkers.append(Walker(len(walkers), float(temperature), start.copy(), start.copy()))
    return walkers


def snapshot(atoms: Atoms) -> Atoms:
    """Positions, cell and momenta only: no calculator, no constraint."""
    copy = Atoms(atoms.numbers, atoms.positions, cell=atoms.cell, pbc=atoms.pbc)
    copy.set_momenta(atoms.get_momenta())
    return copy


def explore(walker: Walker, calculator: Calculator, settings: WalkSettings, seed: int,
            score: Callable[[np.ndarray], float], threshold: float, runaway: float, bonds: set[tuple[int, int]],
            on_steps: Callable[[int], None] | None = None) -> Walk:
    """Run one walker for ``settings.steps`` steps (fewer if it runs away); updates ``walker`` in place."""
    atoms = walker.atoms.copy()
    atoms.calc = calculator
    md = MDSettings(temperature_K=walker.temperature_K, timestep_fs=settings.timestep_fs, steps=settings.steps,
                    interval=settings.interval, friction_per_fs=settings.friction_per_fs, seed=seed)
    frames = trajectory(atoms, md, draw_momenta=walker.warm_fs == 0.0)
    walk = Walk()
    for _ in range(settings.steps // settings.interval):
        try:
            next(frames)
            value = score(calculator.get_property("forces_std", atoms)) if bonds_intact(atoms, bonds) else np.inf
        except StructureError:  # atoms on top of each other: the model let them collide
            value = np.inf
        if on_steps:
            on_steps(settings.interval)
        walker.warm_fs += settings.interval * settings.timestep_fs
        frame = snapshot(atoms)
        equilibrated = walker.warm_fs >= settings.equilibration_fs
        if not np.isfinite(value) or value > runaway:
            walk.ran_away = True
            if np.isfinite(value):
                walk.visits.append(Visit(frame, walker.index, walker.temperature_K, float(value), stopped=True,
                                         equilibrated=equilibrated))
            break
        walk.visits.append(Visit(frame, walker.index, walker.temperature_K, float(value), equilibrated=equilibrated))
        if value <= threshold:
            walker.trusted, walker.trusted_warm_fs = frame, walker.warm_fs
    if walk.ran_away:
        walker.atoms, walker.warm_fs = walker.trusted.copy(), walker.trusted_warm_fs
    else:
        walker.atoms = snapshot(atoms)
    return walk
