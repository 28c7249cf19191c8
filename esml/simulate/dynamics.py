"""Molecular dynamics with any ASE calculator: NVE, or NVT with Langevin, Bussi or Nosé–Hoover.

One trajectory iterator (:func:`trajectory`: settings in, frames out) drives every MD in esml:
``esml md`` (:func:`run_md`), the sampling of labeled sets (:func:`sample_langevin`) and the
active learner's walkers; one close-contact check (:func:`close_pairs`) says which bonds exist.

Frames go to an extxyz or ASE ``.traj`` file as they are made, so a stopped run keeps them.
The summary says what a user checks first: the temperature held, the energy drift of NVE
(meV/atom/ps) and whether any covalent bond broke or formed. With a model that knows its
uncertainty (a GP from ``esml learn``, an ensemble), every saved frame also records the model's
force σ there, and MD can stop where σ passes a limit: past it, the trajectory is the model's
guess, not the physics it learned.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np
from ase import Atoms, units
from ase.calculators.calculator import Calculator
from ase.constraints import FixCom
from ase.md.velocitydistribution import Stationary, ZeroRotation, thermalize_momenta
from ase.neighborlist import natural_cutoffs, neighbor_list

from esml.atomic import results_format
from esml.errors import OverlapError
from esml.simulate.settings import MDSettings


@dataclass(frozen=True)
class MDFrame:
    step: int
    time_fs: float
    temperature_K: float
    potential_energy: float  # eV
    total_energy: float  # eV
    force_sigma: float | None = None  # eV/Å: the model's force σ, mean over components, when watched


@dataclass(frozen=True)
class MDSummary:
    frames: int
    mean_temperature_K: float
    drift_meV_per_atom_per_ps: float  # slope of the total energy; meaningful for NVE
    bonds_changed: int  # covalent bonds broken or formed between the first and any saved frame
    first_bond_change_fs: float | None
    max_force_sigma: float | None = None  # eV/Å, over the saved frames, when watched
    stopped_uncertain_fs: float | None = None  # when the force σ passed the limit and MD stopped
    collapsed_after_fs: float | None = None  # the last saved frame before the model let two atoms overlap
    collapse: str | None = None  # which atoms, how close


def make_dynamics(atoms: Atoms, settings: MDSettings, rng: np.random.Generator):
    timestep = settings.timestep_fs * units.fs
    if settings.ensemble == "nve":
        from ase.md.verlet import VelocityVerlet

        return VelocityVerlet(atoms, timestep=timestep)
    if settings.thermostat == "langevin":
        from ase.md.langevin import Langevin

        return Langevin(atoms, timestep=timestep, temperature_K=settings.temperature_K, fixcm=False,
                        friction=settings.friction_per_fs / units.fs, rng=rng)
    if settings.thermostat == "bussi":
        from ase.md.bussi import Bussi

        return Bussi(atoms, timestep=timestep, temperature_K=settings.temperature_K,
                     taut=settings.relaxation_fs * units.fs, rng=rng)
    from ase.md.nose_hoover_chain import NoseHooverChainNVT

    return NoseHooverChainNVT(atoms, timestep=timestep, temperature_K=settings.temperature_K,
                              tdamp=settings.relaxation_fs * units.fs)


def trajectory(atoms: Atoms, settings: MDSettings, rng: np.random.Generator | None = None,
               draw_momenta: bool = True) -> Iterator[Atoms]:
    """Run MD on ``atoms`` (with its calculator attached; moved in place) and yield it after every
    ``interval`` steps, ``steps // interval`` times. Momenta are drawn at the temperature unless
    ``atoms`` goes on from where an earlier run left it (``draw_momenta=False``). One generator,
    seeded by ``settings.seed`` unless given, draws the momenta and then drives the thermostat."""
    settings = settings.checked()
    rng = np.random.default_rng(settings.seed) if rng is None else rng
    if settings.ensemble == "nvt" and settings.thermostat == "langevin":
        atoms.set_constraint(FixCom())  # ASE's correct way to keep the centre of mass at rest under Langevin
    if draw_momenta:
        thermalize_momenta(atoms, settings.temperature_K, rng=rng)
        Stationary(atoms)
        if not atoms.pbc.any():  # a periodic cell has no rotation to remove
            ZeroRotation(atoms)
    dynamics = make_dynamics(atoms, settings, rng)
    for _ in range(settings.steps // settings.interval):
        dynamics.run(settings.interval)
        yield atoms


def sample_langevin(atoms: Atoms, calculator: Calculator, temperature_K: float, steps: int, interval: int,
                    timestep_fs: float = 0.5, friction_per_fs: float = 0.01, seed: int = 0,
                    on_step: Callable[[int], None] | None = None) -> list[Atoms]:
    """Frames (positions only, no labels) every ``interval`` steps of NVT Langevin MD from ``atoms``
    (not modified). The first frame is taken after ``interval`` steps, so the start geometry is not
    repeated; ``on_step(interval)`` is called after each."""
    settings = MDSettings(temperature_K=temperature_K, timestep_fs=timestep_fs, steps=steps, interval=interval,
                          friction_per_fs=friction_per_fs, seed=seed)
    moving = atoms.copy()
    moving.calc = calculator
    frames = []
    for state in trajectory(moving, settings):
        frames.append(Atoms(state.numbers, state.positions, cell=state.cell, pbc=state.pbc, info=dict(state.info)))
        if on_step:
            on_step(interval)
    return frames


def close_pairs(atoms: Atoms, factor: float) -> set[tuple[int, int]]:
    """Pairs (i < j) closer than ``factor`` × the sum of their natural covalent radii."""
    i, j = neighbor_list("ij", atoms, [factor * r for r in natural_cutoffs(atoms)])
    return {(a, b) for a, b in zip(i.tolist(), j.tolist()) if a < b}


def bonds(atoms: Atoms) -> set[tuple[int, int]]:
    """Covalent bonds: pairs closer than 1.2 × the sum of natural covalent radii."""
    return close_pairs(atoms, 1.2)


def bonds_intact(atoms: Atoms, reference: set[tuple[int, int]]) -> bool:
    """No bond of ``reference`` stretched past 1.6× the covalent distance, no other pair closer
    than 0.9× of it, and no pair at all closer than 0.7×: thermal motion stays well inside."""
    return (reference <= close_pairs(atoms, 1.6) and close_pairs(atoms, 0.9) <= reference
            and not close_pairs(atoms, 0.7))


def run_md(atoms: Atoms, calculator: Calculator, settings: MDSettings, trajectory_file: Path | None = None,
           on_frame: Callable[[MDFrame], None] | None = None, force_sigma: Callable[[Atoms], float] | None = None,
           sigma_limit: float | None = None) -> tuple[list[MDFrame], MDSummary]:
    """Run MD from ``atoms`` (not modified); every ``interval`` steps a frame is logged and saved.
    ``force_sigma(atoms)`` (eV/Å), when given, is recorded for every saved frame (also in its
    ``info``), and MD stops after the first frame where it exceeds ``sigma_limit``. Where the model
    pulls two atoms onto each other MD ends too, the frames so far kept, and the summary says so."""
    start = atoms.copy()
    start.calc = calculator
    reference_bonds = bonds(start)
    log: list[MDFrame] = []
    changed, first_change, stopped, collapse = 0, None, None, None
    writer = _trajectory_writer(trajectory_file)
    try:
        for count, atoms in enumerate(trajectory(start, settings), start=1):
            step = count * settings.interval
            sigma = None if force_sigma is None else float(force_sigma(atoms))
            frame = MDFrame(step, step * settings.timestep_fs, atoms.get_temperature(),
                            atoms.get_potential_energy(), atoms.get_total_energy(), sigma)
            log.append(frame)
            difference = len(bonds(atoms) ^ reference_bonds)
            if difference and first_change is None:
                first_change = frame.time_fs
            changed = max(changed, difference)
            if sigma is not None:
                atoms.info["force_sigma"] = sigma
            writer(atoms)
            if on_frame:
                on_frame(frame)
            if sigma is not None and sigma_limit is not None and sigma > sigma_limit:
                stopped = frame.time_fs
                break
    except OverlapError as error:  # the model pulled two atoms onto each other: not the user's structure
        collapse = f"atoms {error.pair[0]} and {error.pair[1]} come {error.distance:.3f} Å apart"
    summary = summarise(log, len(start), changed, first_change, stopped)
    if collapse is not None:
        summary = replace(summary, collapsed_after_fs=log[-1].time_fs if log else 0.0, collapse=collapse)
    return log, summary


def summarise(log: list[MDFrame], n_atoms: int, changed: int, first_change: float | None,
              stopped_uncertain_fs: float | None = None) -> MDSummary:
    times_ps = np.array([f.time_fs for f in log]) / 1000
    totals = np.array([f.total_energy for f in log])
    drift = float(np.polyfit(times_ps, totals, 1)[0]) * 1000 / n_atoms if len(log) > 1 else 0.0
    sigmas = [f.force_sigma for f in log if f.force_sigma is not None]
    temperature = float(np.mean([f.temperature_K for f in log])) if log else float("nan")
    return MDSummary(len(log), temperature, drift, changed, first_change,
                     max(sigmas) if sigmas else None, stopped_uncertain_fs)


def _trajectory_writer(path: Path | None) -> Callable[[Atoms], None]:
    if path is None:
        return lambda atoms: None
    output_format = results_format(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    if output_format == "traj":  # frames are appended as they come: a stopped run keeps them
        from ase.io.trajectory import Trajectory

        trajectory = Trajectory(str(path), "w")
        return trajectory.write
    import ase.io

    path.write_text("")

    def append(atoms: Atoms) -> None:
        ase.io.write(path, atoms, format="extxyz", append=True)

    return append
