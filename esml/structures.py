"""Helpers around ``ase.Atoms``: reading files with clear errors, charge and spin.

Charge (e) and spin multiplicity (2S+1) of a frame are read from ``atoms.info['charge']``
and ``atoms.info['multiplicity']`` unless the caller gives them.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
from ase import Atoms

from esml.errors import EsmlError, StructureError


def read_structures(path: str | Path) -> list[Atoms]:
    """Every frame of a structure file in any format ``ase.io`` reads (extxyz preferred)."""
    import ase.io

    path = Path(path)
    if not path.exists():
        raise EsmlError(f"{path}: no such file; give the path of a structure file (extxyz, xyz, POSCAR, ...)")
    if path.is_dir():
        raise EsmlError(f"{path} is a folder; give a structure file (extxyz, xyz, POSCAR, ...)")
    try:
        frames = read_md17_npz(path) if path.suffix == ".npz" else ase.io.read(path, index=":")
    except Exception as error:  # ase.io raises many types for unreadable files
        reason = str(error).splitlines()[0] if str(error) else type(error).__name__
        raise EsmlError(
            f"{path}: not a structure file that ase.io can read ({reason}); give extxyz or another ase.io format"
        ) from None
    frames = frames if isinstance(frames, list) else [frames]
    if not frames or any(len(atoms) == 0 for atoms in frames):
        raise EsmlError(f"{path}: holds no atoms; give a file with at least one structure")
    for index, atoms in enumerate(frames):
        check_positions(atoms, describe(atoms, index))
    return frames


#: The keys of (revised) MD17's npz files: energies in kcal/mol, forces in kcal/mol/Å, positions in Å.
MD17_KEYS = ("nuclear_charges", "coords", "energies", "forces")


def read_md17_npz(path: Path) -> list[Atoms]:
    """The labeled frames of a revised-MD17 npz file (Christensen & von Lilienfeld 2020), in eV and eV/Å."""
    from ase.calculators.singlepoint import SinglePointCalculator
    from ase.units import kcal, mol

    with np.load(path) as data:
        missing = [key for key in MD17_KEYS if key not in data]
        if missing:
            raise ValueError(f"an npz file without the revised-MD17 keys {', '.join(missing)}")
        numbers, coords = data["nuclear_charges"], data["coords"]
        energies, forces = data["energies"] * (kcal / mol), data["forces"] * (kcal / mol)
    frames = []
    for positions, energy, force in zip(coords, energies, forces):
        atoms = Atoms(numbers=numbers, positions=positions)
        atoms.calc = SinglePointCalculator(atoms, energy=float(energy), forces=force)
        frames.append(atoms)
    return frames


def describe(atoms: Atoms, index: int | None = None) -> str:
    """A short name for a frame in messages: 'frame 3 (C2H6O)'."""
    formula = atoms.get_chemical_formula(mode="hill")
    return f"frame {index} ({formula})" if index is not None else formula


def check_positions(atoms: Atoms, name: str) -> None:
    """Refuse NaN or infinite coordinates, which no engine can use."""
    if not np.all(np.isfinite(atoms.positions)):
        raise StructureError(f"{name}: has NaN or infinite positions; fix the coordinates")


def charge_and_multiplicity(
    atoms: Atoms, charge: int | None = None, multiplicity: int | None = None
) -> tuple[int, int]:
    """Charge and multiplicity for a frame: arguments first, then ``atoms.info``, then defaults.

    The default charge is 0 and the default multiplicity the lowest the electron count
    allows (1 for even, 2 for odd).
    """
    charge = int(charge if charge is not None else atoms.info.get("charge", 0))
    if multiplicity is None:
        multiplicity = atoms.info.get("multiplicity")
    n_electrons = electron_count(atoms, charge)
    if multiplicity is None:
        multiplicity = 1 + n_electrons % 2
    return charge, int(multiplicity)


def electron_count(atoms: Atoms, charge: int) -> int:
    return int(atoms.numbers.sum()) - int(charge)


def spin_is_possible(n_electrons: int, unpaired: int) -> bool:
    """Whether ``n_electrons`` can have ``unpaired`` = N_up - N_down (= multiplicity - 1)."""
    return 0 <= unpaired <= n_electrons and (n_electrons - unpaired) % 2 == 0


def check_charge_and_spin(atoms: Atoms, charge: int, multiplicity: int, name: str) -> None:
    """Refuse combinations no wavefunction can have, naming the structure."""
    n_electrons = electron_count(atoms, charge)
    if n_electrons < 0:
        raise StructureError(f"{name}: charge {charge:+d} leaves {n_electrons} electrons; lower the charge")
    if not spin_is_possible(n_electrons, multiplicity - 1):
        lowest = 1 + n_electrons % 2
        raise StructureError(
            f"{name}: {n_electrons} electrons cannot have multiplicity {multiplicity}; "
            f"use multiplicity {lowest} (or {lowest + 2}, ...) or change the charge"
        )
