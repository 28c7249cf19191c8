"""Self-consistent Kohn–Sham runs with a learned functional or a libxc one, treated alike.

Density fitting (with the basis's JK-fitting set) for both, PySCF's default grids unless told,
and a second-order solver when DIIS does not converge: evaluations compare functionals, so
every functional gets the same numerical settings.
"""

from __future__ import annotations

import time

from ase import Atoms

from esml.functionals.model import LearnedXC
from esml.functionals.numint import learned_kohn_sham
from esml.qm.pyscf_engine import converge

CONVERGENCE = 1e-9  # Ha


def molecule_of(atoms: Atoms, basis: str):
    """A PySCF molecule from atoms with ``info['charge']`` and ``info['multiplicity']``; a basis
    that lacks an element is refused with one line, as everywhere in esml.qm."""
    from esml.methods import MethodSpec
    from esml.qm.pyscf_engine import build_molecule

    name = atoms.info.get("name", atoms.get_chemical_formula())
    return build_molecule(atoms, MethodSpec("hf", basis), atoms.info.get("charge", 0),
                          atoms.info.get("multiplicity", 1), name)


def kohn_sham(mol, functional: LearnedXC | str, grid_level: int = 3):
    """An unconverged RKS/UKS object for ``functional`` (a learned model or a libxc name such as 'pbe')."""
    from pyscf import dft
    from pyscf.df import make_auxbasis

    if isinstance(functional, str):
        mean_field = (dft.RKS if mol.spin == 0 else dft.UKS)(mol, xc=functional)
    else:
        mean_field = learned_kohn_sham(mol, functional)
    mean_field.grids.level = grid_level
    mean_field.conv_tol = CONVERGENCE
    # The auxiliary basis is named because PySCF would look it up by mf.xc, which libxc may not know.
    return mean_field.density_fit(auxbasis=make_auxbasis(mol))


def solve(mol, functional: LearnedXC | str, grid_level: int = 3) -> tuple[object, dict]:
    """The converged calculation and how it went: {converged, second_order, cycles, seconds}."""
    began = time.perf_counter()
    mean_field = kohn_sham(mol, functional, grid_level)
    solved, cycles = converge(mean_field)
    return solved, {"converged": bool(solved.converged), "second_order": solved is not mean_field,
                    "cycles": cycles, "seconds": time.perf_counter() - began}
