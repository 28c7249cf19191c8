"""HF, DFT, MP2 and CCSD(T) through PySCF; atomic units stay inside this file.

Restricted or unrestricted follows the multiplicity (singlet: restricted). An SCF that DIIS does
not converge is continued by PySCF's second-order (Newton) solver before it counts as failed. Analytic
forces exist for every method here; dipole and Mulliken charges are given for HF and
DFT, whose density they describe (for MP2/CCSD(T) they would need the relaxed density,
which esml does not compute, so they are left out rather than reported from HF).
"""

from __future__ import annotations

import warnings
from collections.abc import Iterable

import numpy as np
from ase import Atoms

from esml.errors import ConvergenceError, MethodError, StructureError
from esml.methods import PYSCF_GUESSES, MethodSpec, learned_functionals, learned_guesses
from esml.structures import charge_and_multiplicity
from esml.units import ANGSTROM_TO_BOHR, BOHR_TO_ANGSTROM, HARTREE_PER_BOHR_TO_EV_PER_ANGSTROM, HARTREE_TO_EV


def compute_pyscf(
    atoms: Atoms,
    spec: MethodSpec,
    charge: int,
    multiplicity: int,
    name: str,
    forces: bool = True,
    threads: int | None = None,
) -> dict:
    """Energy (eV) and, if asked, forces (eV/Å); dipole (e·Å) and charges (e) for HF/DFT; the
    SCF's iterations from its initial guess (``scf_cycles``, DIIS and second-order together)."""
    from pyscf import lib

    if atoms.pbc.any():
        raise StructureError(f"{name}: is periodic; PySCF methods here are molecular, use gfn2-xtb for cells")
    if threads:
        lib.num_threads(threads)
    mol = build_molecule(atoms, spec, charge, multiplicity, name)
    mean_field, cycles = run_mean_field(mol, spec, name)
    if spec.is_correlated:
        solver, energy = run_correlated(mean_field, spec)
    else:
        solver, energy = mean_field, mean_field.e_tot
    results = {"energy": float(energy) * HARTREE_TO_EV, "scf_cycles": cycles}
    if forces:
        gradient = gradient_of(solver, spec)
        results["forces"] = -np.asarray(gradient) * HARTREE_PER_BOHR_TO_EV_PER_ANGSTROM
    if not spec.is_correlated:
        results["dipole"] = np.asarray(mean_field.dip_moment(unit="au", verbose=0)) * BOHR_TO_ANGSTROM
        results["charges"] = np.asarray(mean_field.mulliken_pop(verbose=0)[1])
    return results


def build_molecule(atoms: Atoms, spec: MethodSpec, charge: int, multiplicity: int, name: str):
    from pyscf import gto
    from pyscf.gto.basis import BasisNotFoundError

    positions = atoms.positions * ANGSTROM_TO_BOHR
    mol = gto.Mole(
        atom=[(int(z), tuple(xyz)) for z, xyz in zip(atoms.numbers, positions)],
        unit="Bohr",
        basis=spec.basis,
        charge=charge,
        spin=multiplicity - 1,
        verbose=0,
    )
    try:
        with warnings.catch_warnings():
            # PySCF only suggests installing basis-set-exchange; the error below says what to do.
            warnings.filterwarnings("ignore", message="Basis may be available")
            mol.build(dump_input=False, parse_arg=False)
    except BasisNotFoundError as error:
        raise StructureError(f"{name}: basis '{spec.basis}' unusable here ({error}); choose a basis that covers every element") from None
    return mol


def run_mean_field(mol, spec: MethodSpec, name: str) -> tuple[object, int]:
    """The converged HF or Kohn–Sham calculation and its number of SCF iterations."""
    mean_field = mean_field_for(mol, spec)
    with warnings.catch_warnings():
        # PySCF's own Hückel guess calls its deprecated remove_linear_dep_: not the user's concern
        warnings.filterwarnings("ignore", message="remove_linear_dep_ is deprecated", category=DeprecationWarning)
        mean_field, cycles = converge(mean_field, initial_density(spec, mean_field))
    if not mean_field.converged:
        raise ConvergenceError(f"{name}: {spec.label} SCF did not converge in {spec.max_scf_cycles} cycles, by DIIS "
                               "nor then by the second-order solver; check the charge and multiplicity, or raise --max-scf-cycles")
    return mean_field, cycles


def mean_field_for(mol, spec: MethodSpec):
    """The HF or Kohn–Sham object of the spec, configured and not yet run."""
    from pyscf import dft, scf

    restricted = mol.spin == 0
    if spec.is_learned:
        mean_field = learned_functionals().kohn_sham(mol, spec.name)
    elif spec.is_dft:
        check_functional(spec.name)
        mean_field = (dft.RKS if restricted else dft.UKS)(mol, xc=spec.name)
    else:
        mean_field = (scf.RHF if restricted else scf.UHF)(mol)
    if spec.density_fit:
        from pyscf.df import make_auxbasis

        # PySCF chooses the auxiliary basis by mf.xc, which libxc does not know for a learned functional.
        mean_field = mean_field.density_fit(auxbasis=make_auxbasis(mol) if spec.is_learned else None)
    if spec.dispersion:
        mean_field.disp = spec.dispersion
    mean_field.max_cycle = spec.max_scf_cycles
    mean_field.conv_tol = spec.scf_tolerance
    mean_field.verbose = 0
    return mean_field


def initial_density(spec: MethodSpec, mean_field) -> np.ndarray | None:
    """The density the SCF starts from: None leaves it to PySCF's guess named in the spec (a
    learned model that cannot describe this molecule falls back to minao, PySCF's default)."""
    if spec.initial_guess in PYSCF_GUESSES:
        mean_field.init_guess = spec.initial_guess
        return None
    mean_field.init_guess = "minao"
    return learned_guesses().initial_density(mean_field, spec.initial_guess)


def converge(mean_field, initial: np.ndarray | None = None) -> tuple[object, int]:
    """The SCF run by DIIS from ``initial`` (a density matrix; None: the object's ``init_guess``) and,
    where that does not converge, on by PySCF's second-order solver from where DIIS stopped (the
    object returned is then that solver's): DIIS can oscillate between near-degenerate states (open
    shells, stretched bonds), which the second-order solver settles. Also its iterations, DIIS and
    second-order together."""
    cycles = []
    mean_field.callback = lambda env: cycles.append(1)  # once per iteration; the second-order solver inherits it
    mean_field.kernel(initial)
    if mean_field.converged:
        return mean_field, len(cycles)
    second_order = mean_field.newton()
    second_order.kernel(mean_field.make_rdm1())
    return second_order, len(cycles)


def check_functional(functional: str) -> None:
    from pyscf.dft import libxc

    try:
        libxc.parse_xc(functional)
    except (KeyError, NotImplementedError):
        raise MethodError(f"functional '{functional}' is not known to PySCF/libxc; check its name (e.g. pbe, b3lyp, wb97x-v)") from None


def check_basis(basis: str, symbols: Iterable[str]) -> None:
    """One line for a basis name PySCF does not know, or one without functions for an element."""
    from pyscf.gto import basis as basis_library
    from pyscf.gto.basis import BasisNotFoundError

    for symbol in sorted(set(symbols)) or ["H"]:
        try:
            with warnings.catch_warnings():
                warnings.filterwarnings("ignore", message="Basis may be available")
                basis_library.load(basis, symbol)
        except BasisNotFoundError as error:
            if "Unknown basis" in str(error):
                raise MethodError(f"basis '{basis}' is not one PySCF knows; check its name (e.g. def2-svp, cc-pvdz, 6-31g*)") from None
            if symbols:
                raise MethodError(f"basis '{basis}' has no functions for {symbol}; choose one that covers every element (e.g. def2-svp)") from None


# PySCF's default coupled-cluster tolerances leave analytic CCSD(T) forces ~2e-3 eV/Å away
# from finite differences of its own energy; these bring them to ~1e-5 eV/Å.
CC_ENERGY_TOLERANCE = 1e-10  # Hartree
CC_AMPLITUDE_TOLERANCE = 1e-8
CC_LAMBDA_TOLERANCE = 1e-9


def run_correlated(mean_field, spec: MethodSpec):
    from pyscf import cc, mp

    if spec.name == "mp2":
        solver = mp.MP2(mean_field).run(verbose=0)
        return solver, solver.e_tot
    solver = cc.CCSD(mean_field)
    solver.conv_tol, solver.conv_tol_normt = CC_ENERGY_TOLERANCE, CC_AMPLITUDE_TOLERANCE
    solver.run(verbose=0)
    if not solver.converged:
        raise ConvergenceError(f"{spec.label}: CCSD amplitudes did not converge")
    if spec.name == "ccsd":
        return solver, solver.e_tot
    return solver, solver.e_tot + solver.ccsd_t()


def gradient_of(solver, spec: MethodSpec) -> np.ndarray:
    """Analytic nuclear gradient (Hartree/Bohr) of the method, dispersion included."""
    if spec.name == "ccsd(t)":
        return ccsd_t_gradient(solver)
    if spec.is_learned:
        return learned_functionals().nuclear_gradient(solver)
    gradient = solver.nuc_grad_method()
    if spec.is_dft:
        # The derivative of the moving integration grid too: without it DFT forces miss −dE/dx by
        # ~0.5 meV/Å (B3LYP/def2-TZVP), enough to send BFGS uphill near a minimum and to make
        # finite-difference Hessians non-conservative; it costs no measurable time.
        gradient.grid_response = True
    return gradient.kernel()


def ccsd_t_gradient(solver) -> np.ndarray:
    from pyscf.cc import ccsd_t_lambda_slow, uccsd_t_lambda
    from pyscf.grad import ccsd_t, uccsd_t

    restricted = solver.mo_coeff.ndim == 2
    lambda_solver, gradients = (ccsd_t_lambda_slow, ccsd_t) if restricted else (uccsd_t_lambda, uccsd_t)
    eris = solver.ao2mo()
    converged, l1, l2 = lambda_solver.kernel(
        solver, eris, solver.t1, solver.t2, max_cycle=200, tol=CC_LAMBDA_TOLERANCE, verbose=0
    )
    if not converged:
        raise ConvergenceError("CCSD(T) lambda equations did not converge; forces unavailable for this structure")
    return gradients.Gradients(solver).kernel(solver.t1, solver.t2, l1, l2, eris=eris)


def converged_matrices(atoms: Atoms, spec: MethodSpec, name: str | None = None) -> dict:
    """A closed-shell HF/Kohn–Sham calculation's converged matrices in the AO basis, atomic units:
    ``fock``, ``overlap``, ``density`` (n_ao, n_ao), ``mo_energy`` (n_ao,), ``energy`` (Hartree),
    ``scf_cycles`` from the spec's initial guess, and ``minao_fock``, the Fock matrix of PySCF's
    minao density (an SCF's first from minao): what a learned Hamiltonian is trained on."""
    name = name or atoms.get_chemical_formula()
    charge, multiplicity = charge_and_multiplicity(atoms)
    if multiplicity != 1:
        raise StructureError(f"{name}: multiplicity {multiplicity}; converged matrices are stored for closed shells only")
    mol = build_molecule(atoms, spec, charge, 1, name)
    mean_field, cycles = run_mean_field(mol, spec, name)
    return {"fock": mean_field.get_fock(), "minao_fock": minao_fock(mean_field),
            "overlap": mean_field.get_ovlp(), "density": mean_field.make_rdm1(),
            "mo_energy": np.asarray(mean_field.mo_energy), "energy": float(mean_field.e_tot), "scf_cycles": cycles}


def minao_fock(mean_field) -> np.ndarray:
    """The Fock matrix (Hartree) of PySCF's minao density: what an SCF from minao diagonalises first."""
    return mean_field.get_fock(dm=mean_field.get_init_guess(key="minao"))
