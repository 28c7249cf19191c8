"""Rank generated crystals by stability: each prototype's energy-volume scan gives its lowest
energy per atom, and pymatgen's hull over all of them gives every candidate's distance to it.

Energies come from labels (the reference engine) or from a potential, which can afford a finer
volume grid than the labels; both pass through the same scan and hull, so the two rankings
compare like with like.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass

import numpy as np
from ase import Atoms

from esml.properties.materials import Stability, entry, rank_by_hull
from esml.properties.prototypes import PrototypeError, at_strain

FINE_POINTS = 17


@dataclass(frozen=True)
class Minimum:
    """The bottom of one prototype's E(V) scan: eV/atom and Å³/atom; ``inside`` is False when
    the scan's lowest point is at its edge (the true minimum lies beyond the scanned volumes)."""

    prototype: str
    formula: str
    energy_per_atom: float
    volume_per_atom: float
    inside: bool


def scans(frames: list[Atoms]) -> dict[tuple[str, str], list[Atoms]]:
    """Frames grouped by (prototype, formula), as written by `esml materials generate`."""
    groups = defaultdict(list)
    for atoms in frames:
        if "prototype" not in atoms.info or "formula" not in atoms.info:
            raise PrototypeError("frames need info['prototype'] and info['formula']; make them with "
                                 "`esml materials generate`")
        groups[(atoms.info["prototype"], atoms.info["formula"])].append(atoms)
    return dict(groups)


def scan_minimum(volumes: np.ndarray, energies: np.ndarray) -> tuple[float, float, bool]:
    """Lowest energy of E(V) (per atom): a parabola through the three lowest points when the
    lowest is inside the scan, else the lowest point itself."""
    order = np.argsort(volumes)
    volumes, energies = volumes[order], energies[order]
    k = int(np.argmin(energies))
    if k == 0 or k == len(energies) - 1:
        return float(energies[k]), float(volumes[k]), False
    a, b, c = np.polyfit(volumes[k - 1:k + 2], energies[k - 1:k + 2], 2)
    v = -b / (2 * a)
    return float(a * v * v + b * v + c), float(v), True


def minima(groups: dict[tuple[str, str], list[Atoms]], energies: dict[tuple[str, str], np.ndarray]) -> list[Minimum]:
    """``energies[key]``: eV per frame of ``groups[key]``."""
    out = []
    for key, frames in groups.items():
        n = np.array([len(a) for a in frames])
        volumes = np.array([a.get_volume() for a in frames]) / n
        energy, volume, inside = scan_minimum(volumes, np.asarray(energies[key]) / n)
        out.append(Minimum(key[0], key[1], energy, volume, inside))
    return out


def unit_cells(frames: list[Atoms]) -> list[Atoms]:
    """Each labeled supercell as the cell it repeats, carrying its share of the energy.

    A local model gives a repeated cell exactly the repeat count times the cell's energy, so it can
    train and predict on the small cell (tens of times cheaper) while the label keeps the benefit
    of the supercell (Γ-point xTB of a large cell samples many k-points of the small one).
    """
    from ase.calculators.singlepoint import SinglePointCalculator

    cells = []
    for atoms in frames:
        repeat = np.asarray(atoms.info.get("repeat", (1, 1, 1)), dtype=int)
        n = len(atoms) // int(np.prod(repeat))
        cell = Atoms(atoms.numbers[:n], atoms.positions[:n], cell=atoms.cell / repeat[:, None], pbc=atoms.pbc)
        cell.info.update({**atoms.info, "repeat": np.ones(3, dtype=int)})
        if atoms.calc is not None:
            cell.calc = SinglePointCalculator(cell, energy=atoms.get_potential_energy() / np.prod(repeat),
                                              forces=np.zeros((n, 3)))
        cells.append(cell)
    return cells


def labeled_energies(groups: dict[tuple[str, str], list[Atoms]]) -> dict[tuple[str, str], np.ndarray]:
    return {key: np.array([a.get_potential_energy() for a in frames]) for key, frames in groups.items()}


def fine_scans(groups: dict[tuple[str, str], list[Atoms]], points: int = FINE_POINTS) -> dict[tuple[str, str], list[Atoms]]:
    """Each group's structure again at ``points`` strains spanning its own scan (a model is only
    trusted between the volumes it was trained on)."""
    fine = {}
    for key, frames in groups.items():
        strains = [a.info["strain"] for a in frames]
        fine[key] = [at_strain(frames[0], s) for s in np.linspace(min(strains), max(strains), points)]
    return fine


def model_energies(potential, groups: dict[tuple[str, str], list[Atoms]]) -> dict[tuple[str, str], np.ndarray]:
    from esml.calculator import PotentialCalculator

    calculator = PotentialCalculator(potential)
    energies = {}
    for key, frames in groups.items():
        values = []
        for atoms in frames:
            atoms = atoms.copy()
            atoms.calc = calculator
            values.append(atoms.get_potential_energy())
        energies[key] = np.array(values)
    return energies


def rank(found: list[Minimum]) -> list[tuple[Minimum, Stability]]:
    """Every prototype's minimum against the hull of all of them, most stable first."""
    entries = [entry(m.formula, m.energy_per_atom, per_atom=True, name=f"{m.formula} ({m.prototype})") for m in found]
    return [(found[k], s) for k, s in rank_by_hull(entries, entries)]


def plot_hull(ranked: list[tuple[Minimum, Stability]], elements: list[str], path) -> None:
    """Formation energy against composition for a binary system: every prototype, the hull through the stable ones."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from esml.properties.materials import composition

    if len(elements) != 2:
        return
    figure, axis = plt.subplots(figsize=(6, 4.2))
    points = [(composition(m.formula).get_atomic_fraction(elements[1]), s.formation_energy, s.e_above_hull, m)
              for m, s in ranked]
    hull = sorted((x, e) for x, e, above, _ in points if above < 1e-6)
    axis.plot(*zip(*hull), "k-", lw=1, label="hull")
    shown = axis.scatter([p[0] for p in points], [p[1] for p in points], c=[p[2] for p in points], cmap="viridis_r",
                         s=30, edgecolors="k", linewidths=0.3)
    for x, e, above, m in points:
        if above < 0.05:
            axis.annotate(f"{m.formula} {m.prototype}", (x, e), fontsize=7, xytext=(3, -8), textcoords="offset points")
    figure.colorbar(shown, label="E above hull (eV/atom)")
    axis.set_xlabel(f"fraction of {elements[1]}")
    axis.set_ylabel("formation energy (eV/atom)")
    axis.legend()
    figure.tight_layout()
    figure.savefig(path, dpi=150)
    plt.close(figure)


def extensions(groups: dict[tuple[str, str], list[Atoms]], found: list[Minimum], steps: int = 2) -> list[Atoms]:
    """For every scan whose lowest point is at its edge, ``steps`` more strains beyond that edge
    (the scan's own spacing), unlabeled: label them and rank again until every minimum is bracketed."""
    new = []
    for minimum in found:
        if minimum.inside:
            continue
        frames = groups[(minimum.prototype, minimum.formula)]
        strains = sorted(a.info["strain"] for a in frames)
        spacing = (strains[-1] - strains[0]) / max(len(strains) - 1, 1) or 0.04
        volumes = {a.info["strain"]: a.get_volume() / len(a) for a in frames}
        upward = minimum.volume_per_atom >= volumes[strains[-1]] - 1e-9
        for k in range(1, steps + 1):
            new.append(at_strain(frames[0], round(strains[-1] + k * spacing if upward else strains[0] - k * spacing, 4)))
    return new
