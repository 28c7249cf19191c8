"""The moves of a structure search, each from one minimum to a new starting point, on rigid units:
single atoms for atomic clusters, whole molecules for molecular ones (a water cluster's molecules
stay intact). Sizes are fractions of ``spacing``, the nearest-neighbour distance between units."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from ase import Atoms
from ase.neighborlist import natural_cutoffs, neighbor_list
from scipy.sparse import coo_matrix
from scipy.sparse.csgraph import connected_components
from scipy.spatial.transform import Rotation

ESCAPED = 2.0  # a unit farther than this × spacing from every other has left the cluster


@dataclass(frozen=True)
class Units:
    """The rigid units a move acts on: ``members[k]`` holds the atom indices of unit k."""

    members: tuple[np.ndarray, ...]
    species: tuple[str, ...]  # each unit's formula, for swaps
    spacing: float  # Å, median nearest-neighbour distance between unit centres (of the first minimum, in a search)

    @property
    def molecular(self) -> bool:
        return any(len(m) > 1 for m in self.members)

    def centres(self, positions: np.ndarray) -> np.ndarray:
        if not self.molecular:
            return positions
        return np.array([positions[m].mean(axis=0) for m in self.members])


def find_units(atoms: Atoms, molecular: bool) -> Units:
    """Single atoms, or (``molecular``) the covalently bonded fragments of ``atoms`` by ASE's natural radii."""
    n = len(atoms)
    if molecular:
        i, j = neighbor_list("ij", atoms, natural_cutoffs(atoms))
        count, labels = connected_components(coo_matrix((np.ones(len(i)), (i, j)), shape=(n, n)))
        members = tuple(np.flatnonzero(labels == k) for k in range(count))
    else:
        members = tuple(np.array([k]) for k in range(n))
    species = tuple(atoms[m].get_chemical_formula() for m in members)
    centres = np.array([atoms.positions[m].mean(axis=0) for m in members])
    return Units(members, species, nearest_spacing(centres))


def nearest_spacing(centres: np.ndarray) -> float:
    """The median over units of the distance to the nearest other unit (Å)."""
    distances = np.linalg.norm(centres[:, None] - centres[None], axis=-1)
    np.fill_diagonal(distances, np.inf)
    return float(np.median(distances.min(axis=1)))


def shake(positions, units, rng, size, energies):
    """Every unit translated by a random vector in a cube of half-width ``size`` × spacing (basin hopping's step)."""
    steps = rng.uniform(-1, 1, (len(units.members), 3)) * size * units.spacing
    if not units.molecular:
        return positions + steps
    new = positions.copy()
    for m, step in zip(units.members, steps):
        new[m] += step
    return new


def cap(positions, units, rng, size, energies):
    """The units beyond a random plane (about a third of them) rotated about its normal by up to ``size`` × π."""
    centres = units.centres(positions)
    middle = centres.mean(axis=0)
    axis = _direction(rng)
    height = (centres - middle) @ axis
    chosen = np.flatnonzero(height >= np.quantile(height, 2 / 3))
    turn = Rotation.from_rotvec(axis * rng.uniform(0.25, 1) * size * np.pi)
    new = positions.copy()
    for k in chosen:
        m = units.members[k]
        new[m] = turn.apply(new[m] - middle) + middle
    return new


def jump(positions, units, rng, size, energies):
    """The least bound unit (highest energy where the calculator gives per-atom energies, else the
    fewest neighbours) placed on the surface in a random direction."""
    centres = units.centres(positions)
    if energies is not None:
        worst = int(np.argmax([energies[m].sum() for m in units.members]))
    else:
        distances = np.linalg.norm(centres[:, None] - centres[None], axis=-1)
        neighbours = (distances < 1.3 * units.spacing).sum(axis=1) + rng.uniform(0, 0.5, len(centres))
        worst = int(np.argmin(neighbours))
    return _onto_surface(positions, units, [worst], rng)


def escaped(positions: np.ndarray, units: Units) -> np.ndarray:
    """The units farther than ESCAPED × spacing from every other: they have left the cluster."""
    centres = units.centres(positions)
    distances = np.linalg.norm(centres[:, None] - centres[None], axis=-1)
    np.fill_diagonal(distances, np.inf)
    return np.flatnonzero(distances.min(axis=1) > ESCAPED * units.spacing)


def gather(positions: np.ndarray, units: Units, rng: np.random.Generator) -> np.ndarray:
    """Every unit that has left the cluster put back on its surface (a random start can leave one
    so far out that its forces are below any threshold before it joins)."""
    return _onto_surface(positions, units, escaped(positions, units), rng)


def _onto_surface(positions, units, chosen, rng) -> np.ndarray:
    centres = units.centres(positions)
    rest = np.delete(centres, chosen, axis=0)
    middle = rest.mean(axis=0)
    new = positions.copy()
    for k in chosen:
        axis = _direction(rng)
        outside = ((rest - middle) @ axis).max() + 0.9 * units.spacing
        new[units.members[k]] += middle + outside * axis - centres[k]
    return new


def rotate(positions, units, rng, size, energies):
    """Every molecule turned about its own centre by a random angle up to ``size`` × π."""
    new = positions.copy()
    for m in units.members:
        centre = new[m].mean(axis=0)
        turn = Rotation.from_rotvec(_direction(rng) * rng.uniform(0, size * np.pi))
        new[m] = turn.apply(new[m] - centre) + centre
    return new


def swap(positions, units, rng, size, energies):
    """Two units of different kinds exchange places."""
    kinds = np.array(units.species)
    a = rng.integers(len(kinds))
    others = np.flatnonzero(kinds != kinds[a])
    b = rng.choice(others)
    centres = units.centres(positions)
    new = positions.copy()
    new[units.members[a]] += centres[b] - centres[a]
    new[units.members[b]] += centres[a] - centres[b]
    return new


def restart(positions, units, rng, size, energies):
    """A fresh random start: the units at random, turned at random, in a cube as dense as a liquid;
    the search accepts it whatever its energy (a new walk, the best so far kept)."""
    centres = units.centres(positions)
    side = units.spacing * (len(units.members) / 0.75) ** (1 / 3) * 0.9
    new = positions.copy()
    for k, m in enumerate(units.members):
        turned = Rotation.random(random_state=rng).apply(positions[m] - centres[k]) if len(m) > 1 else 0.0
        new[m] = turned + rng.uniform(0, side, 3)
    return new


def _direction(rng: np.random.Generator) -> np.ndarray:
    v = rng.normal(size=3)
    return v / np.linalg.norm(v)


MOVES = {"shake": shake, "cap": cap, "jump": jump, "rotate": rotate, "swap": swap, "restart": restart}


def applicable(move: str, units: Units) -> bool:
    """Whether ``move`` means anything for these units: rotations need molecules, swaps two kinds."""
    if move == "rotate":
        return units.molecular
    if move == "swap":
        return len(set(units.species)) > 1
    return len(units.members) > 1
