"""Sampling configurations by Langevin molecular dynamics with any ASE calculator."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
from ase import Atoms, units
from ase.calculators.calculator import Calculator
from ase.constraints import FixCom
from ase.md.langevin import Langevin
from ase.md.velocitydistribution import Stationary, ZeroRotation, thermalize_momenta


def sample_langevin(
    atoms: Atoms,
    calculator: Calculator,
    temperature_K: float,
    steps: int,
    interval: int,
    timestep_fs: float = 0.5,
    friction_per_fs: float = 0.01,
    seed: int = 0,
    on_step: Callable[[int], None] | None = None,
) -> list[Atoms]:
    """Frames (positions only, no labels) every ``interval`` steps of NVT Langevin MD.

    The first frame is taken after ``interval`` steps, so the start geometry is not repeated.
    ``on_step(n)`` is called every ``interval`` steps with ``n = interval``.
    """
    atoms = atoms.copy()
    atoms.set_constraint(FixCom())  # ASE's correct way to keep the centre of mass at rest under Langevin
    atoms.calc = calculator
    rng = np.random.default_rng(seed)
    thermalize_momenta(atoms, temperature_K, rng=rng)
    Stationary(atoms)
    ZeroRotation(atoms)
    dynamics = Langevin(
        atoms, timestep=timestep_fs * units.fs, temperature_K=temperature_K,
        friction=friction_per_fs / units.fs, fixcm=False, rng=rng,
    )
    frames = []
    for _ in range(steps // interval):
        dynamics.run(interval)
        frame = Atoms(atoms.numbers, atoms.positions, cell=atoms.cell, pbc=atoms.pbc, info=dict(atoms.info))
        frames.append(frame)
        if on_step:
            on_step(interval)
    return frames
