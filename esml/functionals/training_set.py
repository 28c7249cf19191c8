"""The reference data shipped with esml for learned functionals, and its split by molecule.

``data/g2_references.json`` holds, for 59 G2 molecules and their atoms, the focal-point
CCSD(T)/CBS energies of :mod:`esml.functionals.reference` (computed by
``benchmarks/g2_references.py``) and the experimental De. Molecules are split once, with a fixed
seed, into ``train`` and ``heldout``, so every model and every evaluation sees the same held-out
molecules (``esml datasets import g2`` stores the same split in the store).

One-electron systems (the H atom and H₂⁺) have exact energies: Hartree–Fock in a basis near
completeness. They show the delocalisation error that semilocal functionals make with fractional
charges; H₂⁺ at 5 Å is kept for evaluation, shorter bonds may be trained on.
"""

from __future__ import annotations

import functools
import json
from pathlib import Path

import numpy as np
from ase import Atoms

from esml.errors import EsmlError
from esml.functionals.reference import atomization_kcal, g2_atoms, molecule_names

REFERENCE_FILE = Path(__file__).parent / "data" / "g2_references.json"
HELDOUT_FRACTION = 1 / 3
SPLIT_SEED = 2022
TRAINING_BONDS_H2_PLUS = (1.0, 2.0, 3.0, 4.0)  # Å
# Exact non-relativistic total energies of the atoms (Ha; Chakravorty et al., Phys. Rev. A 47, 3649,
# 1993). Training on them anchors absolute energies, which atomisation energies alone leave free.
EXACT_ATOM_ENERGIES = {"H": -0.5, "C": -37.8450, "N": -54.5892, "O": -75.0673, "F": -99.7339}
EVALUATION_BOND_H2_PLUS = 5.0  # Å


@functools.cache
def references() -> dict:
    if not REFERENCE_FILE.exists():
        raise EsmlError(f"{REFERENCE_FILE}: missing; run `python benchmarks/g2_references.py` to compute the references")
    return json.loads(REFERENCE_FILE.read_text())


@functools.cache
def split() -> dict[str, list[str]]:
    """{"train": [...], "heldout": [...]}: the 59 molecules, a third held out, drawn with a fixed seed."""
    order = np.random.default_rng(SPLIT_SEED).permutation(sorted(molecule_names()))
    cut = round(len(order) * HELDOUT_FRACTION)
    return {"train": sorted(order[cut:].tolist()), "heldout": sorted(order[:cut].tolist())}


def with_references(names: list[str]) -> list[str]:
    """Those of ``names`` whose reference energy has been computed (``benchmarks/g2_references.py``
    fills the file in over about an hour and resumes; a partial file still trains and scores)."""
    species = references()["species"]
    return [name for name in names if name in species]


def composition(names: list[str]) -> dict[str, list[str]]:
    """Each molecule's atoms by symbol."""
    return {name: g2_atoms(name).get_chemical_symbols() for name in names}


def reference_atomization_kcal(names: list[str]) -> dict[str, float]:
    energies = {name: entry["energy_ha"] for name, entry in references()["species"].items()}
    return {name: atomization_kcal(energies, name) for name in names}


def experimental_atomization_kcal(names: list[str]) -> dict[str, float]:
    return {name: references()["species"][name]["experimental_de_kcal"] for name in names}


def h2_plus(bond: float) -> Atoms:
    atoms = Atoms("H2", positions=[[0, 0, 0], [0, 0, bond]])
    atoms.info.update(name=f"H2+@{bond:g}", charge=1, multiplicity=2)
    return atoms


def hydrogen_atom() -> Atoms:
    atoms = Atoms("H")
    atoms.info.update(name="H", charge=0, multiplicity=2)
    return atoms


@functools.cache
def exact_one_electron_energy(name: str) -> float:
    """Exact energy (Ha) of ``H`` or ``H2+@R`` (R in Å): UHF, exact for one electron, in aug-cc-pV5Z."""
    from pyscf import scf

    from esml.functionals.scf import molecule_of

    atoms = hydrogen_atom() if name == "H" else h2_plus(float(name.split("@")[1]))
    return float(scf.UHF(molecule_of(atoms, "aug-cc-pv5z")).run(conv_tol=1e-11).e_tot)


def training_one_electron() -> list[Atoms]:
    return [hydrogen_atom(), *(h2_plus(bond) for bond in TRAINING_BONDS_H2_PLUS)]
