"""The electronic system a wavefunction is built for: nuclei (charges, positions in Bohr) and the
number of spin-up and spin-down electrons. Built from ``ase.Atoms`` (Å) at the edge of ``qmc/``."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from ase import Atoms
from ase.data import atomic_numbers, chemical_symbols

from esml import units
from esml.errors import StructureError
from esml.structures import electron_count, spin_is_possible

MAX_Z = 10  # H–Ne: the Hartree–Fock baselines use correlation-consistent bases that PySCF ships for them
# Ground-state spin (N_up - N_down) of the free atoms, by Hund's rules.
ATOM_SPIN = {"H": 1, "He": 0, "Li": 1, "Be": 0, "B": 1, "C": 2, "N": 3, "O": 2, "F": 1, "Ne": 0}


@dataclass(frozen=True)
class System:
    charges: tuple[int, ...]  # nuclear charges Z_I
    coordinates: tuple[tuple[float, float, float], ...]  # Bohr
    n_up: int
    n_down: int

    @property
    def symbols(self) -> list[str]:
        return [chemical_symbols[z] for z in self.charges]

    @property
    def n_electrons(self) -> int:
        return self.n_up + self.n_down

    @property
    def nuclear_repulsion(self) -> float:
        positions, charges = np.array(self.coordinates), np.array(self.charges, dtype=float)
        total = 0.0
        for i in range(len(charges)):
            for j in range(i):
                total += charges[i] * charges[j] / np.linalg.norm(positions[i] - positions[j])
        return total

    def describe(self) -> str:
        return f"{''.join(self.symbols)} ({self.n_up}↑ {self.n_down}↓ electrons)"


def from_atoms(atoms: Atoms, charge: int = 0, spin: int | None = None) -> System:
    """``spin`` is N_up - N_down (2S); default: the free-atom value for one atom, else 0 or 1."""
    symbols = atoms.get_chemical_symbols()
    unsupported = sorted({symbol for symbol, z in zip(symbols, atoms.numbers) if not 1 <= z <= MAX_Z})
    if unsupported:
        raise StructureError(f"esml vmc supports H to Ne; {', '.join(unsupported)} is not supported "
                             "(heavier atoms need pseudopotentials, which esml's VMC does not have)")
    n_electrons = electron_count(atoms, charge)
    if n_electrons < 1:
        raise StructureError(f"charge {charge} leaves {n_electrons} electrons; "
                             f"give a charge below {atoms.numbers.sum()}")
    if spin is None:
        spin = ATOM_SPIN[atoms[0].symbol] if len(atoms) == 1 and charge == 0 else n_electrons % 2
    if not spin_is_possible(n_electrons, spin):
        raise StructureError(f"{n_electrons} electrons cannot have spin {spin} (N_up - N_down); "
                             f"give --spin {n_electrons % 2} or another value of the same parity")
    positions = atoms.positions * units.ANGSTROM_TO_BOHR
    if len(atoms) > 1:
        gaps = np.linalg.norm(positions[:, None] - positions[None], axis=-1)[np.triu_indices(len(atoms), 1)]
        if gaps.min() < 0.1:
            raise StructureError(f"two nuclei are {gaps.min() * units.BOHR_TO_ANGSTROM:.3f} Å apart; "
                                 "check the structure")
    return System(tuple(int(z) for z in atoms.numbers), tuple(tuple(map(float, p)) for p in positions),
                  (n_electrons + spin) // 2, (n_electrons - spin) // 2)


def atom(symbol: str, charge: int = 0, spin: int | None = None) -> System:
    """A free atom (or ion) at the origin; by default in its ground-state spin."""
    if symbol not in atomic_numbers:
        raise StructureError(f"{symbol!r} is not an element symbol; give e.g. --atom Be")
    return from_atoms(Atoms(symbol), charge, spin)
