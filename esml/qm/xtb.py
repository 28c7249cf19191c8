"""GFN-xTB through tblite's library interface; atomic units stay inside this file."""

from __future__ import annotations

import numpy as np
from ase import Atoms

from esml.errors import ConvergenceError, StructureError
from esml.qm.methods import XTB_METHODS, MethodSpec
from esml.units import ANGSTROM_TO_BOHR, HARTREE_PER_BOHR_TO_EV_PER_ANGSTROM, HARTREE_TO_EV, BOHR_TO_ANGSTROM


def compute_xtb(atoms: Atoms, spec: MethodSpec, charge: int, multiplicity: int, name: str) -> dict:
    """Energy (eV), forces (eV/Å), charges (e), dipole (e·Å) and, for cells, stress (eV/Å³).

    Stress is in ASE's Voigt order (xx, yy, zz, yz, xz, xy).
    """
    from tblite.interface import Calculator

    try:
        calculator = Calculator(
            XTB_METHODS[spec.name],
            atoms.numbers,
            atoms.positions * ANGSTROM_TO_BOHR,
            charge,
            multiplicity - 1,
            np.asarray(atoms.cell) * ANGSTROM_TO_BOHR,
            atoms.pbc,
        )
    except RuntimeError as error:  # tblite refuses elements it has no parameters for
        raise StructureError(f"{name}: {spec.label} cannot treat it ({error})") from None
    calculator.set("max-iter", spec.max_scf_cycles)
    calculator.set("verbosity", 0)
    try:
        result = calculator.singlepoint()
    except RuntimeError as error:
        message = str(error)
        if "converge" in message.lower():
            raise ConvergenceError(f"{name}: {spec.label} SCF did not converge in {spec.max_scf_cycles} cycles") from None
        raise StructureError(f"{name}: {spec.label} failed ({message})") from None
    results = {
        "energy": float(result["energy"]) * HARTREE_TO_EV,
        "forces": -np.asarray(result["gradient"]) * HARTREE_PER_BOHR_TO_EV_PER_ANGSTROM,
        "charges": np.asarray(result["charges"]),
        "dipole": np.asarray(result["dipole"]) * BOHR_TO_ANGSTROM,
    }
    if atoms.pbc.any():
        sigma = np.asarray(result["virial"]) * HARTREE_TO_EV / atoms.get_volume()
        results["stress"] = sigma.flat[[0, 4, 8, 5, 2, 1]]
    return results
