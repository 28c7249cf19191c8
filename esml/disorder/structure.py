"""The structure of a disordered solid: radial distribution, coordination, bond angles and rings.

Neighbours within ``cutoff`` (Å) are bonded. matscipy finds them (its neighbour list, periodic and
fast) and counts shortest-path rings; the rest is a few lines of numpy. Every function wants a
periodic cell at least twice the cutoff wide, so that no atom meets its own image as a neighbour.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from ase import Atoms

from esml.errors import EsmlError
from esml.units import AMU_PER_CUBIC_ANGSTROM_TO_G_PER_CM3


@dataclass(frozen=True)
class StructureReport:
    """What an amorphous-structure study reports of one cell."""

    density: float  # g/cm³
    coordination: dict[int, float]  # fraction of atoms with each number of neighbours
    mean_coordination: float
    rdf_peaks: tuple[float, ...]  # positions (Å) of the first maxima of g(r)
    mean_angle: float  # degrees
    rings: dict[int, int]  # ring size -> count (shortest-path rings)


def check_cell(atoms: Atoms, cutoff: float) -> None:
    """A periodic cell whose perpendicular widths are at least twice ``cutoff``, or one clear error."""
    if not atoms.pbc.all() or atoms.cell.rank < 3:
        raise EsmlError("the structure is not periodic in three directions: give a bulk cell (amorphous or crystal)")
    if cell_width(atoms) < 2 * cutoff:
        raise EsmlError(f"the cell is {cell_width(atoms):.2f} Å wide, less than twice the {cutoff:g} Å cutoff: "
                        "repeat it (ase's atoms.repeat) or lower the cutoff")


def cell_width(atoms: Atoms) -> float:
    """The smallest distance between opposite faces of the cell."""
    return float(np.min(atoms.cell.volume / atoms.cell.areas()))


def bonds(atoms: Atoms, cutoff: float) -> tuple[np.ndarray, np.ndarray]:
    """(i, vector from i to its neighbour) of every ordered bonded pair, sorted by i."""
    from matscipy.neighbours import neighbour_list

    check_cell(atoms, cutoff)
    first, vectors = neighbour_list("iD", atoms, cutoff)
    order = np.argsort(first, kind="stable")
    return first[order], vectors[order]


def coordination(atoms: Atoms, cutoff: float) -> np.ndarray:
    """Each atom's number of neighbours within ``cutoff``."""
    return np.bincount(bonds(atoms, cutoff)[0], minlength=len(atoms))


def radial_distribution(atoms: Atoms, r_max: float, bins: int = 200) -> tuple[np.ndarray, np.ndarray]:
    """g(r) at bin centres up to ``r_max`` (at most the cell's width): pair counts over those of an
    ideal gas of the same density."""
    from matscipy.neighbours import neighbour_list

    check_cell(atoms, 0.0)
    r_max = min(r_max, cell_width(atoms))
    distances = neighbour_list("d", atoms, r_max)
    edges = np.linspace(0, r_max, bins + 1)
    counts, _ = np.histogram(distances, edges)
    shells = 4 / 3 * np.pi * (edges[1:] ** 3 - edges[:-1] ** 3)
    ideal = len(atoms) * len(atoms) / atoms.cell.volume * shells
    return (edges[1:] + edges[:-1]) / 2, counts / ideal


def rdf_peaks(radii: np.ndarray, rdf: np.ndarray, count: int = 2, width: float = 0.05) -> tuple[float, ...]:
    """The first ``count`` peaks of g(r): maxima above 1 that stand out by a tenth of the highest,
    after smoothing with a Gaussian of ``width`` Å (a small cell's g(r) is noisy bin to bin)."""
    from scipy.ndimage import gaussian_filter1d
    from scipy.signal import find_peaks

    smoothed = gaussian_filter1d(rdf, width / (radii[1] - radii[0]))
    found, _ = find_peaks(smoothed, height=1.0, prominence=0.1 * smoothed.max())
    return tuple(float(radii[k]) for k in found[:count])


def bond_angles(atoms: Atoms, cutoff: float) -> np.ndarray:
    """Every angle (degrees) between two bonds of one atom."""
    return _angles(*bonds(atoms, cutoff), len(atoms))


def _angles(first: np.ndarray, vectors: np.ndarray, n_atoms: int) -> np.ndarray:
    angles = []
    for own in np.split(vectors, np.cumsum(np.bincount(first, minlength=n_atoms))[:-1]):
        if len(own) < 2:
            continue
        unit = own / np.linalg.norm(own, axis=1)[:, None]
        cosines = (unit @ unit.T)[np.triu_indices(len(unit), 1)]
        angles.append(np.degrees(np.arccos(np.clip(cosines, -1, 1))))
    return np.concatenate(angles) if angles else np.zeros(0)


def ring_statistics(atoms: Atoms, cutoff: float, max_size: int = 10) -> dict[int, int]:
    """Counts of shortest-path rings by size (matscipy's, after Franzblau)."""
    from matscipy.rings import ring_statistics as count_rings

    check_cell(atoms, cutoff)
    counts = count_rings(atoms, cutoff, maxlength=max_size)
    return {size: int(n) for size, n in enumerate(counts) if n}


def structure_report(atoms: Atoms, cutoff: float, r_max: float = 6.0) -> StructureReport:
    """The figures an amorphous-structure study compares with diffraction and with other models."""
    first, vectors = bonds(atoms, cutoff)  # one neighbour list for coordination and angles
    numbers = np.bincount(first, minlength=len(atoms))
    values, counts = np.unique(numbers, return_counts=True)
    radii, rdf = radial_distribution(atoms, r_max)
    angles = _angles(first, vectors, len(atoms))
    return StructureReport(
        density=float(atoms.get_masses().sum() / atoms.cell.volume * AMU_PER_CUBIC_ANGSTROM_TO_G_PER_CM3),
        coordination={int(v): float(c / len(atoms)) for v, c in zip(values, counts)},
        mean_coordination=float(numbers.mean()), rdf_peaks=rdf_peaks(radii, rdf),
        mean_angle=float(angles.mean()) if len(angles) else float("nan"),
        rings=ring_statistics(atoms, cutoff))
