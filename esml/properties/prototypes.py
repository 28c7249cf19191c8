"""Hypothetical crystals: AFLOW prototypes (as shipped with pymatgen) decorated with elements.

The AFLOW approach: take known structure types, put new elements on their sites, and let a
calculation say which of them would be stable. Each decorated prototype is scaled so that its
shortest contact of every element pair is no shorter than the sum of covalent radii, repeated
until every cell width reaches ``min_width`` (Γ-point xTB needs room), and strained isotropically
to give an energy-volume scan. Every element also gets its elemental prototypes, since a hull
needs them.
"""

from __future__ import annotations

import functools
import itertools
from dataclasses import dataclass

import numpy as np
from ase import Atoms
from ase.data import atomic_numbers, covalent_radii
from ase.neighborlist import neighbor_list

from esml.errors import EsmlError

#: Friendly names for AFLOW labels; any other label of pymatgen's library is accepted as is.
PROTOTYPES = {
    "rocksalt": "AB_cF8_225_a_b", "zincblende": "AB_cF8_216_c_a", "wurtzite": "AB_hP4_186_b_b",
    "cscl": "AB_cP2_221_b_a", "nias": "AB_hP4_194_a_c", "fluorite": "AB2_cF12_225_a_c", "rutile": "A2B_tP6_136_f_a",
    "alb2": "AB2_hP3_191_a_d", "cdi2": "AB2_hP3_164_a_d", "l12": "AB3_cP4_221_a_c", "perovskite": "AB3C_cP5_221_a_c_b",
}
ELEMENTAL = {"fcc": "A_cF4_225_a", "bcc": "A_cI2_229_a", "hcp": "A_hP2_194_c", "diamond": "A_cF8_227_a"}
DEFAULT_PROTOTYPES = ("rocksalt", "zincblende", "wurtzite", "cscl", "fluorite", "rutile", "l12")
DEFAULT_STRAINS = (0.92, 0.96, 1.0, 1.04, 1.08)


class PrototypeError(EsmlError):
    """A prototype or element list that cannot be decorated."""


@dataclass(frozen=True)
class GenerateConfig:
    """prototypes: names (PROTOTYPES) or AFLOW labels; strains: linear scale factors of the cell;
    min_width: smallest perpendicular width of a cell (Å); references: elemental structures (ELEMENTAL
    names or AFLOW labels) of every element, which the hull needs."""

    prototypes: tuple[str, ...] = DEFAULT_PROTOTYPES
    strains: tuple[float, ...] = DEFAULT_STRAINS
    min_width: float = 8.0
    references: tuple[str, ...] = tuple(ELEMENTAL)


@functools.cache
def _library() -> dict:
    from pymatgen.analysis.prototypes import AFLOW_PROTOTYPE_LIBRARY

    return {entry["tags"]["aflow"]: entry["snl"].structure for entry in AFLOW_PROTOTYPE_LIBRARY}


def conventional(structure):
    """The conventional cell: near-orthogonal, so fewer repeats reach a given width than from the primitive one."""
    from pymatgen.symmetry.analyzer import SpacegroupAnalyzer

    return SpacegroupAnalyzer(structure).get_conventional_standard_structure()


def label_of(name: str, library: dict) -> str:
    label = PROTOTYPES.get(name.lower(), ELEMENTAL.get(name.lower(), name))
    if label not in library:
        raise PrototypeError(f"unknown prototype {name!r}; use {', '.join(PROTOTYPES)}, "
                             f"{', '.join(ELEMENTAL)} or an AFLOW label such as AB_cF8_225_a_b")
    return label


def generate(elements: list[str], config: GenerateConfig = GenerateConfig()) -> list[Atoms]:
    """Every distinct decoration of every prototype with ``elements``, at every strain."""
    _check_elements(elements)
    library = _library()
    names = [(name, label_of(name, library)) for name in config.prototypes + config.references]
    frames = []
    for name, label in names:
        for decorated in decorations(conventional(library[label]), elements):
            base = scaled_to_radii(decorated)
            for strain in config.strains:
                frames.append(_frame(base, strain, config.min_width, name, label))
    return frames


def _check_elements(elements: list[str]) -> None:
    unknown = [e for e in elements if e not in atomic_numbers or e == "X"]
    if unknown:
        raise PrototypeError(f"unknown element(s) {', '.join(unknown)}; give symbols such as Si,C")
    if len(set(elements)) != len(elements) or not elements:
        raise PrototypeError("give each element once, e.g. --elements Si,C")


def decorations(prototype, elements: list[str]) -> list:
    """The prototype with its species replaced by ``elements`` in every assignment, duplicates
    (the same crystal reached twice, as rock salt XY and YX) removed."""
    from pymatgen.analysis.structure_matcher import StructureMatcher

    sites = sorted({str(s.specie) for s in prototype}, key=lambda s: prototype.composition[s])
    distinct = []
    for chosen in itertools.permutations(elements, len(sites)):
        candidate = prototype.copy()
        candidate.replace_species(dict(zip(sites, chosen)))
        if not any(StructureMatcher().fit(candidate, seen) for seen in distinct):
            distinct.append(candidate)
    return distinct


def scaled_to_radii(structure) -> Atoms:
    """The structure as Atoms, scaled so that no contact is shorter than its expected bond length.

    The expected length is the sum of covalent radii lengthened with coordination by Pauling's
    bond-order rule, d = d₁ - 0.6 log₁₀(s), taking four bonds' worth of valence per atom
    (s = 4/N): tetrahedral contacts keep covalent lengths, close-packed ones grow by ~0.29 Å.
    """
    atoms = Atoms(numbers=[site.specie.Z for site in structure], cell=structure.lattice.matrix,
                  scaled_positions=structure.frac_coords, pbc=True)
    # Images count: a one-atom cell's only neighbours are copies of itself.
    i, j, distances = neighbor_list("ijd", atoms, 3.0 * atoms.cell.lengths().max())
    nearest = np.full(len(atoms), np.inf)
    np.minimum.at(nearest, i, distances)
    coordination = np.bincount(i[distances < 1.1 * nearest[i]], minlength=len(atoms))
    radii = covalent_radii[atoms.numbers] + 0.3 * np.log10(np.maximum(coordination, 1) / 4.0)
    scale = float(np.max((radii[i] + radii[j]) / distances))
    atoms.set_cell(atoms.cell * scale, scale_atoms=True)
    return atoms


def at_strain(frame: Atoms, strain: float) -> Atoms:
    """A copy of ``frame`` (unlabeled) with its cell scaled to ``strain`` of the unstrained one."""
    atoms = frame.copy()
    atoms.calc = None
    atoms.set_cell(frame.cell * (strain / frame.info.get("strain", 1.0)), scale_atoms=True)
    atoms.info["strain"] = float(strain)
    return atoms


def _frame(base: Atoms, strain: float, min_width: float, name: str, label: str) -> Atoms:
    atoms = at_strain(base, strain)
    widths = atoms.cell.volume / atoms.cell.areas()  # distances between opposite faces
    repeat = [max(1, int(np.ceil(min_width / w))) for w in widths]
    atoms = atoms.repeat(repeat)
    atoms.info.update({"prototype": name, "aflow": label, "formula": base.get_chemical_formula(empirical=True),
                       "strain": float(strain), "repeat": np.array(repeat)})
    return atoms
