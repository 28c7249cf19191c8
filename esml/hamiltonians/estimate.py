"""Electronic properties read straight from a learned Hamiltonian, without an SCF: orbital energies,
the HOMO–LUMO gap and the dipole of the predicted density. A fast estimate (one Fock build of the
minao density and the model), in eV and e·Å at the edge."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import scipy.linalg
from ase import Atoms

from esml.errors import StructureError
from esml.hamiltonians.guess import model_of, predicted_fock, unknown_elements
from esml.methods import parse_reference
from esml.qm.pyscf_engine import build_molecule, mean_field_for
from esml.structures import charge_and_multiplicity, describe
from esml.units import BOHR_TO_ANGSTROM, HARTREE_TO_EV


@dataclass(frozen=True)
class ElectronicEstimate:
    """orbital_energies (n_ao,) eV; homo, lumo, gap eV; dipole (3,) e·Å; method the model was trained at."""

    orbital_energies: np.ndarray
    homo: float
    lumo: float
    gap: float
    dipole: np.ndarray
    method: str


def estimate(atoms: Atoms, model_name: str = "ml") -> ElectronicEstimate:
    """The model's estimate for a closed-shell molecule of elements it knows."""
    model = model_of(model_name)
    name = describe(atoms)
    unknown = unknown_elements(model, atoms.get_chemical_symbols())
    if unknown:
        raise StructureError(f"{name}: the model knows no {', '.join(unknown)}; it was trained on {', '.join(_symbols(model.bases))}")
    charge, multiplicity = charge_and_multiplicity(atoms, None, None)
    if multiplicity != 1:
        raise StructureError(f"{name}: an estimate from one Fock matrix needs a closed shell (multiplicity {multiplicity} given)")
    spec = parse_reference(model.method)
    mean_field = mean_field_for(build_molecule(atoms, spec, charge, 1, name), spec)
    fock = predicted_fock(mean_field, model)
    energies, orbitals = scipy.linalg.eigh(fock, mean_field.get_ovlp())
    occupied = mean_field.mol.nelec[0]
    density = 2 * orbitals[:, :occupied] @ orbitals[:, :occupied].T
    dipole = np.asarray(mean_field.dip_moment(dm=density, unit="au", verbose=0)) * BOHR_TO_ANGSTROM
    homo, lumo = energies[occupied - 1] * HARTREE_TO_EV, energies[occupied] * HARTREE_TO_EV
    return ElectronicEstimate(energies * HARTREE_TO_EV, float(homo), float(lumo), float(lumo - homo), dipole, spec.label)


def _symbols(bases) -> list[str]:
    from ase.data import chemical_symbols

    return [chemical_symbols[z] for z in sorted(bases)]
