"""The learned initial guess, offered to the engine as the ``esml.scf_guesses`` plug-in
(pyproject.toml): ``esml.qm.calculator('pbe/def2-svp', initial_guess='ml')`` or a model file.

The model corrects the Fock matrix of PySCF's minao density, the matrix an SCF from minao
diagonalises first (so the guess costs that one Fock build, counted as an iteration in
BENCHMARKS.md). The corrected matrix is diagonalised in the overlap metric and its lowest orbitals
occupied (α and β separately for an open shell), so the guess is idempotent and holds the right
number of electrons whatever the model's error. A molecule with an element the model does not know, or a
calculation in another basis, starts from PySCF's minao instead, with a warning.
"""

from __future__ import annotations

import functools
import warnings
from pathlib import Path

import numpy as np
import scipy.linalg
import torch

from esml.errors import MethodError
from esml.hamiltonians.training import load_model
from esml.qm.pyscf_engine import minao_fock

SHIPPED = {"ml": Path(__file__).parent / "data" / "pbe-def2-svp.pt"}


def is_model(name: str) -> bool:
    return name in SHIPPED or name.endswith(".pt")


def model_file(name: str) -> Path:
    path = SHIPPED.get(name, Path(name))
    if not path.is_file():
        raise MethodError(f"initial guess '{name}': no model file {path}; train one with benchmarks/scf_guess.py")
    return path


@functools.lru_cache(maxsize=4)
def _loaded(path: str, modified_ns: int):
    model, _ = load_model(Path(path))
    return model.double()


def model_of(name: str):
    path = model_file(name)
    return _loaded(str(path.resolve()), path.stat().st_mtime_ns)


def unknown_elements(model, symbols) -> list[str]:
    """The elements among ``symbols`` the model has no basis for, sorted."""
    from ase.data import atomic_numbers

    return sorted({symbol for symbol in symbols if atomic_numbers[symbol] not in model.bases})


def predicted_fock(mean_field, model) -> np.ndarray:
    """The model's Fock matrix (Hartree, PySCF's AO order; α and β stacked for an open shell): the
    Fock matrix of the minao density plus the learned correction."""
    mol = mean_field.mol
    with torch.no_grad():
        correction = model(torch.from_numpy(mol.atom_charges()).long(), torch.from_numpy(mol.atom_coords()))
    return minao_fock(mean_field) + correction.numpy()


def occupied_density(fock: np.ndarray, overlap: np.ndarray, occupied: int) -> np.ndarray:
    """The density (n_ao, n_ao) of ``fock``'s ``occupied`` lowest orbitals, singly occupied."""
    _, orbitals = scipy.linalg.eigh(fock, overlap)
    return orbitals[:, :occupied] @ orbitals[:, :occupied].T


def initial_density(mean_field, name: str) -> np.ndarray | None:
    """The density the configured SCF ``mean_field`` starts from (restricted: total; unrestricted:
    α and β), or None for minao."""
    mol = mean_field.mol
    model = model_of(name)
    unknown = unknown_elements(model, mol.elements)
    reason = (f"it knows no {', '.join(unknown)}" if unknown
              else f"it was trained in {model.basis_name}, not {mol.basis}" if str(mol.basis).lower() != model.basis_name else None)
    if reason:
        warnings.warn(f"initial guess '{name}': {reason}; starting from minao", stacklevel=2)
        return None
    fock, overlap = predicted_fock(mean_field, model), mean_field.get_ovlp()
    if fock.ndim == 2:
        return 2 * occupied_density(fock, overlap, mol.nelec[0])
    return np.stack([occupied_density(spin_fock, overlap, n) for spin_fock, n in zip(fock, mol.nelec)])
