"""Training data of a learned Hamiltonian: each molecule's converged Fock matrix beside the baseline
the model corrects, kept one compressed file per calculation so that an interrupted run resumes.
Atomic units (Hartree, Bohr)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
from ase import Atoms

from esml.atomic import write_atomically
from esml.methods import MethodSpec
from esml.qm.cache import cache_key
from esml.units import ANGSTROM_TO_BOHR


@dataclass(frozen=True)
class Sample:
    """One converged closed-shell calculation.

    numbers (n_atoms,); positions (n_atoms, 3) Bohr; fock (converged), baseline (the Fock matrix of
    PySCF's minao density), overlap, density (n_ao, n_ao)
    Hartree / dimensionless in PySCF's AO order; mo_energy (n_ao,) Hartree; energy (Hartree);
    scf_cycles from PySCF's minao guess.
    """

    numbers: np.ndarray
    positions: np.ndarray
    fock: np.ndarray
    baseline: np.ndarray
    overlap: np.ndarray
    density: np.ndarray
    mo_energy: np.ndarray
    energy: float
    scf_cycles: int

    @property
    def n_occupied(self) -> int:
        return int(round(np.trace(self.density @ self.overlap))) // 2


def converged_sample(atoms: Atoms, spec: MethodSpec) -> Sample:
    """Run the reference SCF (from minao) and keep what the model learns."""
    from dataclasses import replace

    from esml.qm.pyscf_engine import converged_matrices

    matrices = converged_matrices(atoms, replace(spec, initial_guess="minao"))
    return Sample(numbers=np.asarray(atoms.numbers), positions=atoms.positions * ANGSTROM_TO_BOHR,
                  fock=matrices["fock"], baseline=matrices["minao_fock"], overlap=matrices["overlap"],
                  density=matrices["density"], mo_energy=matrices["mo_energy"], energy=matrices["energy"],
                  scf_cycles=matrices["scf_cycles"])


def sample_file(folder: Path, atoms: Atoms, spec: MethodSpec) -> Path:
    return folder / f"{cache_key(atoms, spec, int(atoms.info.get('charge', 0)), 1, False)[:24]}.npz"


def load_or_compute(atoms: Atoms, spec: MethodSpec, folder: Path) -> Sample:
    """The molecule's sample from ``folder``, computed and written there (atomically) if missing."""
    path = sample_file(folder, atoms, spec)
    if path.exists():
        with np.load(path) as stored:
            return Sample(**{name: (stored[name] if stored[name].ndim else stored[name].item()) for name in stored.files})
    sample = converged_sample(atoms, spec)
    write_atomically(path, lambda temporary: _save(temporary, sample))
    return sample


def _save(path: Path, sample: Sample) -> None:
    with open(path, "wb") as handle:  # a handle: given a name, numpy would append ".npz" to it
        np.savez_compressed(handle, **sample.__dict__)
