"""Molecular representations for kernel models: qmllib's FCHL19, SLATM and Bag of Bonds, and
dscribe's Coulomb matrix. The libraries compute them; this module fixes their layout on the
training set (elements, sizes, SLATM's many-body types) so that new molecules match it.

FCHL19 is local (one vector per atom, compared only between atoms of the same element); the
others are global (one vector per molecule).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np
from ase import Atoms
from ase.data import chemical_symbols

from esml.errors import EsmlError

MAX_ATOMS = 100  # kernel models here are for molecules; the layouts grow with the largest one


class PropertyError(EsmlError):
    """Molecules that a representation or model cannot take, or a bad property request."""


@dataclass(frozen=True)
class Layout:
    """What the training set fixed: elements, the padded size, BoB's bag sizes, SLATM's types."""

    name: str
    elements: tuple[int, ...]
    size: int
    bags: dict[str, int] = field(default_factory=dict)
    mbtypes: list = field(default_factory=list)

    def to_json(self) -> dict:
        return {"name": self.name, "elements": list(self.elements), "size": self.size, "bags": self.bags,
                "mbtypes": [[int(z) for z in group] for group in self.mbtypes]}

    @classmethod
    def from_json(cls, data: dict) -> "Layout":
        return cls(data["name"], tuple(data["elements"]), data["size"], dict(data["bags"]), data["mbtypes"])


@dataclass(frozen=True)
class Features:
    """Global: ``vectors`` is (n_molecules, D). Local: (n_atoms, D), with each row's element and molecule."""

    vectors: np.ndarray
    n_molecules: int
    species: np.ndarray | None = None
    molecule: np.ndarray | None = None

    @property
    def local(self) -> bool:
        return self.species is not None


def fit_layout(name: str, frames: list[Atoms]) -> Layout:
    """The layout for ``name`` that covers every molecule of the training set."""
    if name not in REPRESENTATIONS:
        raise PropertyError(f"unknown representation {name!r}; use one of {', '.join(NAMES)}")
    check_molecules(frames)
    elements = tuple(sorted({int(z) for atoms in frames for z in atoms.numbers}))
    return Layout(name, elements, max(len(atoms) for atoms in frames), **REPRESENTATIONS[name].fit_extras(frames, elements))


def check_molecules(frames: list[Atoms], layout: Layout | None = None) -> None:
    """One line for what the representation cannot take: nothing, huge or periodic structures,
    elements the model never saw, molecules larger than its layout."""
    if not frames:
        raise PropertyError("no molecules given (the file is empty?)")
    for index, atoms in enumerate(frames):
        if len(atoms) > MAX_ATOMS:
            raise PropertyError(f"structure {index} has {len(atoms)} atoms; the kernel models take molecules of at most {MAX_ATOMS}")
        if atoms.pbc.any():
            raise PropertyError(f"structure {index} is periodic; these property models are for molecules")
        if layout is None:
            continue
        unknown = sorted(set(atoms.get_chemical_symbols()) - {chemical_symbols[z] for z in layout.elements})
        if unknown:
            known = ", ".join(chemical_symbols[z] for z in layout.elements)
            raise PropertyError(f"structure {index} holds {', '.join(unknown)}, which the model never saw (it knows {known})")
        if len(atoms) > layout.size and REPRESENTATIONS[layout.name].padded:
            raise PropertyError(f"structure {index} has {len(atoms)} atoms; this {layout.name} model was laid out for at most {layout.size}")
        if layout.bags:
            counts = Counter(atoms.get_chemical_symbols())
            over = [symbol for symbol, n in counts.items() if n > layout.bags.get(symbol, 0)]
            if over:
                raise PropertyError(f"structure {index} has more {', '.join(over)} atoms than any training molecule (Bag of Bonds sizes)")


def featurize(layout: Layout, frames: list[Atoms]) -> Features:
    check_molecules(frames, layout)
    return REPRESENTATIONS[layout.name].features(layout, frames)


def _fchl19(layout: Layout, frames: list[Atoms]) -> Features:
    from qmllib.representations import generate_fchl19

    vectors = [generate_fchl19(atoms.numbers, atoms.positions, elements=list(layout.elements)) for atoms in frames]
    species = np.concatenate([atoms.numbers for atoms in frames])
    molecule = np.repeat(np.arange(len(frames)), [len(atoms) for atoms in frames])
    return Features(np.concatenate(vectors).astype(np.float64), len(frames), species, molecule)


def _per_molecule(vector: Callable[[Layout, Atoms], np.ndarray]) -> Callable[[Layout, list[Atoms]], Features]:
    """A global representation's features from its vector of one molecule."""
    def features(layout: Layout, frames: list[Atoms]) -> Features:
        return Features(np.array([vector(layout, atoms) for atoms in frames], dtype=np.float64), len(frames))

    return features


def _slatm(layout: Layout, atoms: Atoms) -> np.ndarray:
    from qmllib.representations import generate_slatm

    return generate_slatm(atoms.numbers, atoms.positions, layout.mbtypes)


def _slatm_types(frames: list[Atoms], elements: tuple[int, ...]) -> dict:
    from qmllib.representations import get_slatm_mbtypes

    return {"mbtypes": get_slatm_mbtypes([atoms.numbers for atoms in frames])}


def _bob(layout: Layout, atoms: Atoms) -> np.ndarray:
    from qmllib.representations import generate_bob

    return generate_bob(atoms.numbers, atoms.positions, atomtypes=None, size=layout.size, asize=layout.bags)


def _bob_bags(frames: list[Atoms], elements: tuple[int, ...]) -> dict:
    counts = [Counter(atoms.get_chemical_symbols()) for atoms in frames]
    return {"bags": {chemical_symbols[z]: max(c[chemical_symbols[z]] for c in counts) for z in elements}}


def _coulomb_matrix(layout: Layout, atoms: Atoms) -> np.ndarray:
    from dscribe.descriptors import CoulombMatrix

    return CoulombMatrix(n_atoms_max=layout.size, permutation="sorted_l2").create(atoms)


@dataclass(frozen=True)
class Representation:
    """One representation: how its features are computed, what the training set fixes of its
    layout beyond elements and size, its kernel metric, and whether it is padded to a fixed number
    of atoms (then a larger molecule cannot be represented)."""

    features: Callable[[Layout, list[Atoms]], Features]
    metric: str  # "gaussian" or "laplacian"
    fit_extras: Callable[[list[Atoms], tuple[int, ...]], dict] = lambda frames, elements: {}
    padded: bool = False


REPRESENTATIONS: dict[str, Representation] = {
    "fchl19": Representation(_fchl19, "gaussian"),
    "slatm": Representation(_per_molecule(_slatm), "gaussian", _slatm_types),
    "bob": Representation(_per_molecule(_bob), "laplacian", _bob_bags, padded=True),
    "cm": Representation(_per_molecule(_coulomb_matrix), "laplacian", padded=True),
}
NAMES = tuple(REPRESENTATIONS)
