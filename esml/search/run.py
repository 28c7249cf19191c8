"""One structure search: hops from minimum to minimum until a target energy or the cap on
evaluations, resumable from its run folder."""

from __future__ import annotations

import json
import math
from collections.abc import Callable
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path

import numpy as np
from ase import Atoms
from ase.calculators.calculator import Calculator
from threadpoolctl import threadpool_limits

from esml.errors import EsmlError
from esml.search.config import SearchConfig
from esml.search.landscape import Landscape, Minimum, relax, same_minimum
from esml.search.moves import MOVES, Units, applicable, escaped, find_units, gather, nearest_spacing
from esml.search.pair import LennardJones, Morse
from esml.search.policy import ACTIONS, BasinHopping, LearnedPolicy

RECENT = 10  # hops over which the acceptance rate is measured


@dataclass
class SearchState:
    """Everything a search needs to go on exactly where it stopped (written to ``state.json``)."""

    current: Minimum
    best: Minimum
    binding: float  # eV per unit: the temperature scale
    spacing: float  # Å between neighbouring units in the first minimum: the length scale of moves
    evaluations: int = 0
    hops: int = 0
    failed: int = 0  # relaxations the calculator could not finish, or that lost a unit
    walk_best: float = math.inf  # the lowest energy since the last restart
    hops_since_walk_best: int = 0  # hops since that lowest energy last fell
    recent: list[bool] = field(default_factory=list)
    improved: bool = False
    evaluations_to_target: int | None = None
    history: list[tuple[int, float]] = field(default_factory=list)  # (evaluations, best energy) at each new best
    minima: list[Minimum] = field(default_factory=list)
    moves: dict[str, list[int]] = field(default_factory=dict)  # move -> [tried, accepted]


@dataclass(frozen=True)
class SearchResult:
    """What a search found. ``evaluations_to_target`` is None where the target was not reached or not given."""

    best_energy: float
    best: Atoms
    evaluations: int
    evaluations_to_target: int | None
    hops: int
    failed: int
    history: list[tuple[int, float]]
    minima: list[float]  # the kept distinct minima's energies, lowest first
    moves: dict[str, list[int]]


def search(atoms: Atoms, calculator: Calculator | LennardJones | Morse, policy: BasinHopping | LearnedPolicy,
           config: SearchConfig, run_dir: Path | None = None, progress: Callable[[SearchState], None] | None = None
           ) -> SearchResult:
    """Search for the lowest minimum of ``atoms`` under ``calculator`` (an ASE calculator or a pair
    potential), the moves chosen by ``policy``. With ``run_dir`` the state is saved every
    ``checkpoint_hops`` hops and a search found there goes on from where it stopped."""
    config = config.checked()
    units = _units(atoms, calculator)
    landscape = Landscape(atoms, calculator)
    if isinstance(calculator, Calculator):
        landscape(atoms.positions)  # loads the calculator's own libraries (tblite's OpenMP) before their threads are limited
    # A cluster's calculations are small: threads (BLAS in L-BFGS, OpenMP in xTB) spin against each
    # other, 800× slower for a water dimer's xTB call on a busy machine, and change the last digits.
    with threadpool_limits(1):
        return _search(atoms, calculator, units, landscape, policy, config, run_dir, progress)


def _search(atoms, calculator, units: Units, landscape: Landscape, policy, config: SearchConfig, run_dir: Path | None,
            progress) -> SearchResult:
    rng = np.random.default_rng(config.seed)
    state = _load(run_dir, atoms, config, rng) if run_dir and (run_dir / "state.json").exists() else None
    if state is None:
        state = _start(atoms, calculator, landscape, units, config, rng)
    else:
        state.evaluations += landscape.evaluations  # a resumed search's first call counts too
    landscape.evaluations = state.evaluations
    units = replace(units, spacing=state.spacing)
    usable = np.array([applicable(move, units) for move, _ in ACTIONS])
    try:
        while state.evaluations < config.evaluations and state.evaluations_to_target is None:
            _hop(state, landscape, units, policy, usable, config, rng)
            if progress:
                progress(state)
            if run_dir and state.hops % config.checkpoint_hops == 0:
                _save(run_dir, state, atoms, config, rng)
    finally:  # also when interrupted: the hops done are kept, and the calls of an unfinished one counted
        state.evaluations = landscape.evaluations
        if run_dir:
            _save(run_dir, state, atoms, config, rng)
    return SearchResult(state.best.energy, _atoms(atoms, state.best), state.evaluations, state.evaluations_to_target,
                        state.hops, state.failed, state.history, [m.energy for m in state.minima], state.moves)


def _units(atoms: Atoms, calculator) -> Units:
    if len(atoms) < 2:
        raise EsmlError(f"{len(atoms)} atom(s): a structure search needs a cluster of at least two atoms or molecules")
    if atoms.pbc.any():
        raise EsmlError("the structure is periodic: esml search optimises finite clusters; remove the cell (pbc=False)")
    if isinstance(calculator, Calculator):
        fragments = find_units(atoms, molecular=True)
        if len(fragments.members) > 1 and fragments.molecular:
            return fragments
    return find_units(atoms, molecular=False)


def _start(atoms: Atoms, calculator, landscape: Landscape, units: Units, config: SearchConfig,
           rng: np.random.Generator) -> SearchState:
    """The start relaxed, with any unit that stayed out of the cluster put back (up to ten times)."""
    first = relax(landscape, atoms.positions, config.fmax, config.relax_steps)
    for _ in range(10):
        units = replace(units, spacing=nearest_spacing(units.centres(first.positions)))
        if not len(escaped(first.positions, units)):
            break
        first = relax(landscape, gather(first.positions, units, rng), config.fmax, config.relax_steps)
    separated, calls = _separated(atoms, calculator, units)
    landscape.evaluations += calls
    binding = (separated - first.energy) / len(units.members)
    if not binding > 0:
        raise EsmlError("the relaxed start is no more bound than its separate parts: nothing holds this cluster together "
                        "under this calculator; check the start structure and the method")
    state = SearchState(first, first, binding, units.spacing, evaluations=landscape.evaluations, walk_best=first.energy,
                        history=[(landscape.evaluations, first.energy)], minima=[first])
    _check_target(state, config)
    return state


def _separated(atoms: Atoms, calculator, units: Units) -> tuple[float, int]:
    """The units' energies apart (eV; zero for a pair potential) and the calls it took, one per kind of unit."""
    if not isinstance(calculator, Calculator):
        return 0.0, 0
    energies: dict[str, float] = {}
    for members, kind in zip(units.members, units.species):
        if kind not in energies:
            energies[kind] = Landscape(atoms[members], calculator)(atoms.positions[members])[0]
    return sum(energies[kind] for kind in units.species), len(energies)


def _hop(state: SearchState, landscape: Landscape, units: Units, policy, usable: np.ndarray, config: SearchConfig,
         rng: np.random.Generator) -> None:
    """One move, relaxation and Metropolis decision; the state changes only once the relaxation is
    done, so an interruption inside it leaves the state of the previous hop."""
    choice = policy.choose(observe(state, units), usable, rng)
    trial = MOVES[choice.move](state.current.positions, units, rng, choice.size, state.current.energies)
    minimum = _relaxed(landscape, trial, units, config)
    tried = state.moves.setdefault(choice.move, [0, 0])
    tried[0] += 1
    state.hops += 1
    state.evaluations = landscape.evaluations
    if minimum is None:
        state.failed += 1
        accepted = False
    else:
        rise = minimum.energy - state.current.energy
        restart = choice.move == "restart"
        accepted = restart or rise <= 0 or rng.random() < math.exp(-rise / (choice.temperature * state.binding))
        state.improved = rise < -config.tolerance
        _remember(state, minimum, restart, config)
    state.recent = (state.recent + [accepted])[-RECENT:]
    if accepted:
        tried[1] += 1
        state.current = minimum


def _relaxed(landscape: Landscape, trial: np.ndarray, units: Units, config: SearchConfig) -> Minimum | None:
    """The minimum below ``trial``, or None where the calculator failed there or a unit left the cluster."""
    try:
        minimum = relax(landscape, trial, config.fmax, config.relax_steps)
    except EsmlError:
        return None
    if not np.isfinite(minimum.energy) or len(escaped(minimum.positions, units)):
        return None
    return minimum


def _remember(state: SearchState, minimum: Minimum, restart: bool, config: SearchConfig) -> None:
    if restart or minimum.energy < state.walk_best - config.tolerance:
        state.walk_best = minimum.energy
        state.hops_since_walk_best = 0
    else:
        state.hops_since_walk_best += 1
    if minimum.energy < state.best.energy - config.tolerance:
        state.best = minimum
        state.history.append((state.evaluations, minimum.energy))
        _check_target(state, config)
    if not any(same_minimum(minimum, kept, config.tolerance) for kept in state.minima):
        state.minima = sorted(state.minima + [minimum], key=lambda m: m.energy)[:config.keep]


def _check_target(state: SearchState, config: SearchConfig) -> None:
    if config.target is not None and state.best.energy <= config.target + config.tolerance:
        state.evaluations_to_target = state.evaluations


def observe(state: SearchState, units: Units) -> np.ndarray:
    """The policy's view of the search, each feature of order one whatever the cluster's size (see FEATURES)."""
    centres = units.centres(state.current.positions)
    distances = np.linalg.norm(centres[:, None] - centres[None], axis=-1)
    neighbours = (distances < 1.3 * units.spacing).sum(axis=1) - 1
    return np.array([
        1.0,
        min(math.log1p(state.hops_since_walk_best) / math.log(101), 2.0),
        float(np.mean(state.recent)) if state.recent else 0.5,
        min((state.current.energy - state.best.energy) / state.binding, 3.0),
        min((state.walk_best - state.best.energy) / state.binding, 3.0),
        float(neighbours.mean()) / 12,
        float(state.improved),
    ])


def _atoms(template: Atoms, minimum: Minimum) -> Atoms:
    atoms = template.copy()
    atoms.positions = minimum.positions
    atoms.info["energy"] = minimum.energy
    return atoms


def _minimum_record(minimum: Minimum) -> dict:
    return {"positions": minimum.positions.tolist(), "energy": minimum.energy,
            "energies": None if minimum.energies is None else minimum.energies.tolist()}


def _minimum_from(record: dict) -> Minimum:
    energies = record["energies"]
    return Minimum(np.array(record["positions"]), record["energy"], None if energies is None else np.array(energies))


def _identity(atoms: Atoms, config: SearchConfig) -> dict:
    """What a resumed search must share with the one that wrote the folder."""
    return {"symbols": atoms.get_chemical_formula(), "seed": config.seed, "target": config.target, "fmax": config.fmax}


def _save(run_dir: Path, state: SearchState, atoms: Atoms, config: SearchConfig, rng: np.random.Generator) -> None:
    from esml.atomic import write_frames, write_text

    record = asdict(replace(state, current=None, best=None, minima=[]))
    record |= {"current": _minimum_record(state.current), "best": _minimum_record(state.best),
               "minima": [_minimum_record(m) for m in state.minima], "rng": rng.bit_generator.state,
               "identity": _identity(atoms, config)}
    run_dir.mkdir(parents=True, exist_ok=True)
    write_frames(run_dir / "minima.xyz", [_atoms(atoms, m) for m in state.minima])
    write_frames(run_dir / "best.xyz", [_atoms(atoms, state.best)])
    write_text(run_dir / "state.json", json.dumps(record))


def _load(run_dir: Path, atoms: Atoms, config: SearchConfig, rng: np.random.Generator) -> SearchState:
    try:
        record = json.loads((run_dir / "state.json").read_text())
        if record["identity"] != _identity(atoms, config):
            raise EsmlError(f"{run_dir} holds a search of {record['identity']}, not of {_identity(atoms, config)}; "
                            "give another --out, or the same structure and settings to go on")
        rng.bit_generator.state = record.pop("rng")
        record.pop("identity")
        minima = {key: record.pop(key) for key in ("current", "best", "minima")}
        state = SearchState(_minimum_from(minima["current"]), _minimum_from(minima["best"]),
                            minima=[_minimum_from(m) for m in minima["minima"]], **record)
    except (OSError, ValueError, KeyError, TypeError) as error:
        raise EsmlError(f"{run_dir / 'state.json'}: not a search state ({error}); give another --out") from None
    state.history = [tuple(h) for h in state.history]
    return state
