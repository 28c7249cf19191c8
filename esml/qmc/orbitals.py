"""The baseline of the neural wavefunction: PySCF's orbitals and determinants, evaluated in torch
so that autodiff gives their gradients and Laplacians, with their nuclear cusps corrected.

Two baselines:
- ``casscf`` (default): a CASSCF over the valence shell (2s2p of Li–Ne, 1s of H and He; the 1s of
  Li–Ne as core), keeping the determinants whose CI coefficient exceeds ``CI_THRESHOLD``. It holds
  the static correlation that a network multiplying one determinant cannot learn in reach of a
  CPU budget: Be's 2s–2p near-degeneracy is 44 of its 94 mHa of correlation energy.
- ``hf``: the Hartree–Fock determinant (restricted for closed shells, unrestricted otherwise).

PySCF runs in Cartesian Gaussians (``cart=True``); each contracted shell is evaluated here as
Σ_k c_k exp(-a_k r²) · x^i y^j z^k with libcint's coefficients and its s/p normalisation factors,
in PySCF's order, so the molecular-orbital coefficients apply unchanged (tested against
``mol.eval_gto``).

Gaussians have zero slope at a nucleus, where the exact orbital has the cusp φ'/φ = -Z; the tight
Gaussians that imitate it give local energies of hundreds of Hartree there. Following Ma, Towler,
Drummond & Needs (J. Chem. Phys. 122, 224322, 2005), inside a radius r_c of each nucleus the
orbital's s part on that nucleus, s(r), is replaced by C + sign·exp(p(r)) with p a quartic: p(0)
keeps the orbital's value at the nucleus, p'(0) gives the cusp exactly, and value, slope and
curvature match s at r_c, so the orbital stays twice differentiable.
"""

from __future__ import annotations

from dataclasses import dataclass
from math import comb

import numpy as np
import torch

from esml.errors import ConvergenceError, StructureError
from esml.qmc.config import BASELINES, DEFAULT_BASIS
from esml.qmc.system import System

CI_THRESHOLD = 0.01  # CASSCF determinants with a smaller |CI coefficient| are left out
DEGENERACY = 1e-4  # orbitals whose occupations (CASSCF) or energies (Ha, HF) differ by less form one block
MAX_CI_SIZE = 100_000  # determinants in the active space; beyond it, CASSCF is out of reach of a VMC run here
# canonical_orbitals' operator: any values without symmetry (no zero, no two alike) will do
GENERIC_QUADRATIC = np.array([[1.0, 0.31, 0.17], [0.31, 1.7, 0.23], [0.17, 0.23, 2.9]])
GENERIC_LINEAR = np.array([0.11, 0.37, 0.53])
# libcint folds the angular normalisation of s and p shells into Cartesian functions; d and up carry 1.
CARTESIAN_FACTOR = {0: 1 / np.sqrt(4 * np.pi), 1: np.sqrt(3 / (4 * np.pi))}


@dataclass
class ShellGroup:
    """All contracted Cartesian shells of one angular momentum l, padded to the same primitive count."""

    l: int
    centers: torch.Tensor  # (S,) nucleus index
    exponents: torch.Tensor  # (S, K)
    coefficients: torch.Tensor  # (S, K), zero where padded
    axes: torch.Tensor  # (C, l): which coordinate each factor of each Cartesian component is


@dataclass
class NucleusCusp:
    """The cusp correction of every orbital at one nucleus (orbitals without an s part there are left alone)."""

    nucleus: int
    radius: float  # r_c (Bohr)
    columns: torch.Tensor  # the s functions on this nucleus: their columns among the atomic orbitals
    polynomial: torch.Tensor  # (n_orbitals, 5) α_0 … α_4 of p(r)
    shift: torch.Tensor  # (n_orbitals,) C
    sign: torch.Tensor  # (n_orbitals,) ±1, and 0 where the orbital is not corrected


@dataclass
class Baseline:
    """Σ_d weights[d] · det[φ_{up_columns[d]}(r↑)] · det[φ_{down_columns[d]}(r↓)] over the orbitals φ."""

    groups: list[ShellGroup]
    coefficients: torch.Tensor  # (n_ao, n_orbitals) of the orbitals φ
    up_columns: torch.Tensor  # (n_determinants, n_up): which orbitals the up electrons occupy in each determinant
    down_columns: torch.Tensor  # (n_determinants, n_down)
    weights: torch.Tensor  # (n_determinants,) CI coefficients
    cusps: list[NucleusCusp]
    energy: float  # of the baseline method (Ha)
    hartree_fock_energy: float  # Ha
    method: str  # e.g. "CASSCF(2,4)"
    basis: str


def cartesian_axes(l: int) -> list[list[int]]:
    """PySCF's Cartesian order (xx, xy, xz, yy, yz, zz for d) as lists of axis indices."""
    powers = [(lx, ly, l - lx - ly) for lx in range(l, -1, -1) for ly in range(l - lx, -1, -1)]
    return [[0] * lx + [1] * ly + [2] * lz for lx, ly, lz in powers]


def baseline(system: System, method: str = "casscf", basis: str = DEFAULT_BASIS) -> Baseline:
    """The ``method`` ("casscf" or "hf") baseline of ``system``; CASSCF falls back to Hartree–Fock
    where the valence active space holds a single determinant (He, Ne) or the core is not full (Li²⁺)."""
    from ase.data import chemical_symbols
    from pyscf import gto

    from esml.qm.pyscf_engine import check_basis

    if method not in BASELINES:
        raise ValueError(f"baseline {method!r}: use one of {', '.join(BASELINES)}")
    check_basis(basis, [chemical_symbols[int(z)] for z in system.charges])
    mol = gto.M(atom=[(z, xyz) for z, xyz in zip(system.charges, system.coordinates)], unit="bohr", basis=basis,
                cart=True, charge=sum(system.charges) - system.n_electrons, spin=system.n_up - system.n_down, verbose=0)
    core, active, electrons = valence_active_space(system)
    determinants = comb(active, electrons[0]) * comb(active, electrons[1]) if min(electrons) >= 0 else 0
    if method == "hf" or determinants <= 1:
        return _hartree_fock(system, mol)
    if determinants > MAX_CI_SIZE:
        raise StructureError(f"the valence active space of {system.describe()} ({sum(electrons)} electrons in "
                             f"{active} orbitals) is too large for CASSCF here; give --baseline hf")
    return _casscf(system, mol, core, active, electrons)


def valence_active_space(system: System) -> tuple[int, int, tuple[int, int]]:
    """(core orbitals, active orbitals, active up and down electrons): 1s cores of Li–Ne; active 1s
    of H and He, 2s2p of Li–Ne."""
    core = sum(1 for z in system.charges if z > 2)
    active = sum(1 if z <= 2 else 4 for z in system.charges)
    return core, active, (system.n_up - core, system.n_down - core)


def _hartree_fock(system: System, mol) -> Baseline:
    from pyscf import scf

    restricted = system.n_up == system.n_down
    mean_field = _converged((scf.RHF(mol) if restricted else scf.UHF(mol)).run(), system, mol.basis)
    if restricted:
        orbitals = canonical_orbitals(mol, mean_field.mo_coeff[:, :system.n_up], mean_field.mo_energy[:system.n_up])
        up, down = list(range(system.n_up)), list(range(system.n_down))
    else:  # the up orbitals, then the down ones
        orbitals = np.concatenate([canonical_orbitals(mol, coefficients[:, :n], energies[:n]) for coefficients, energies, n
                                   in zip(mean_field.mo_coeff, mean_field.mo_energy, (system.n_up, system.n_down))], axis=1)
        up, down = list(range(system.n_up)), list(range(system.n_up, system.n_up + system.n_down))
    return _evaluated(system, mol, orbitals, [(1.0, up, down)], mean_field.e_tot, mean_field.e_tot, "Hartree–Fock")


def _casscf(system: System, mol, core: int, active: int, electrons: tuple[int, int]) -> Baseline:
    from pyscf import fci, mcscf, scf

    restricted = system.n_up == system.n_down
    mean_field = _converged((scf.RHF(mol) if restricted else scf.ROHF(mol)).run(), system, mol.basis)
    method = f"CASSCF({sum(electrons)},{active})"
    cas = mcscf.CASSCF(mean_field, active, electrons)
    # Natural active orbitals: CASSCF leaves rotations among the active orbitals free, and its default
    # choice varied from run to run; natural orbitals fix all but rotations within a degenerate pair
    # (canonical_orbitals fixes those), and they make the CI expansion shortest.
    cas.conv_tol, cas.conv_tol_grad, cas.natorb = 1e-10, 1e-6, True
    cas.run()
    if not cas.converged:
        raise ConvergenceError(f"the {method} baseline of {system.describe()} did not converge in {mol.basis}; "
                               "give --baseline hf")
    # each set apart: an active orbital nearly doubly occupied must not be rotated into the core
    core_orbitals = canonical_orbitals(mol, cas.mo_coeff[:, :core], cas.mo_occ[:core])
    active_orbitals = canonical_orbitals(mol, cas.mo_coeff[:, core:core + active], cas.mo_occ[core:core + active])
    # the CASCI energy is invariant under rotations among the active orbitals; the CI vector follows them
    rotation = cas.mo_coeff[:, core:core + active].T @ mol.intor("int1e_ovlp") @ active_orbitals
    ci = fci.addons.transform_ci(cas.ci, electrons, rotation)
    # PySCF's CI vector multiplies |α string〉|β string〉, each an ascending product of creation
    # operators: the same order as det↑ · det↓ with ascending columns, so no sign changes.
    terms = [(float(c), list(range(core)) + [core + i for i in up], list(range(core)) + [core + i for i in down])
             for c, up, down in fci.addons.large_ci(ci, active, electrons, tol=CI_THRESHOLD, return_strs=False)]
    leading = np.sign(max(terms, key=lambda term: abs(term[0]))[0])  # the CI vector's sign is arbitrary
    terms = [(leading * c, up, down) for c, up, down in terms]
    return _evaluated(system, mol, np.concatenate([core_orbitals, active_orbitals], axis=1), terms, cas.e_tot,
                      mean_field.e_tot, method)


def canonical_orbitals(mol, orbitals: np.ndarray, labels: np.ndarray) -> np.ndarray:
    """``orbitals`` (n_ao, n) with every block of equal ``labels`` (occupations or energies, within
    ``DEGENERACY``) rotated to one fixed choice, and every orbital's sign fixed.

    PySCF leaves rotations within a degenerate block free (LiH's π pair came out rotated
    differently in every process), and the network's weights act on each orbital by its column:
    without a fixed choice, one seed gave different wavefunctions from run to run. The choice:
    the eigenvectors, within the block, of a one-electron operator with no symmetry of its own,
    a generic quadratic form in r about the centre of nuclear charge; the sign makes each
    orbital's largest coefficient positive."""
    charges = mol.atom_charges()
    centre = charges @ mol.atom_coords() / charges.sum()
    with mol.with_common_orig(centre):
        second = mol.intor("int1e_rr").reshape(3, 3, mol.nao, mol.nao)
        first = mol.intor("int1e_r")
    operator = np.einsum("ij,ijab->ab", GENERIC_QUADRATIC, second) + np.einsum("i,iab->ab", GENERIC_LINEAR, first)
    orbitals = orbitals.copy()
    for block in degenerate_blocks(labels):
        _, rotation = np.linalg.eigh(orbitals[:, block].T @ operator @ orbitals[:, block])
        orbitals[:, block] = orbitals[:, block] @ rotation
    largest = orbitals[np.argmax(np.abs(orbitals), axis=0), np.arange(orbitals.shape[1])]
    return orbitals * np.sign(largest)


def degenerate_blocks(labels: np.ndarray) -> list[slice]:
    """The runs of consecutive ``labels`` within ``DEGENERACY`` of their run's first, two or more long."""
    blocks, start = [], 0
    for k in range(1, len(labels) + 1):
        if k == len(labels) or abs(labels[k] - labels[start]) >= DEGENERACY:
            if k - start > 1:
                blocks.append(slice(start, k))
            start = k
    return blocks


def _converged(mean_field, system: System, basis: str):
    if not mean_field.converged:
        raise ConvergenceError(f"the Hartree–Fock baseline of {system.describe()} did not converge in {basis}")
    return mean_field


def _evaluated(system: System, mol, orbitals: np.ndarray, terms: list[tuple[float, list[int], list[int]]],
               energy: float, hartree_fock_energy: float, method: str) -> Baseline:
    """The baseline with its orbitals in esml's atomic-orbital order and cusp-corrected at every nucleus."""
    groups, order = shell_groups(mol)
    orbitals = orbitals[order]
    nuclei = torch.tensor(system.coordinates, dtype=torch.float64)
    at_nuclei = (atomic_orbitals(groups, nuclei, nuclei) @ torch.from_numpy(orbitals)).numpy()  # (M, n_orbitals)
    cusps = [nucleus_cusp(groups[0], orbitals, at_nuclei[nucleus], nucleus, z)
             for nucleus, z in enumerate(system.charges)]
    weights, up, down = zip(*terms)
    columns = [torch.tensor(c, dtype=torch.long) for c in (up, down)]
    return Baseline(groups, torch.from_numpy(np.ascontiguousarray(orbitals)), *columns,
                    torch.tensor(weights, dtype=torch.float64), cusps, float(energy), float(hartree_fock_energy),
                    method, mol.basis)


def nucleus_cusp(s_shells: ShellGroup, orbitals: np.ndarray, at_nucleus: np.ndarray, nucleus: int,
                 charge: int) -> NucleusCusp:
    """The correction at one nucleus; ``s_shells`` is the l = 0 group, whose columns come first;
    ``at_nucleus`` the whole orbitals' values there (other atoms' functions add to them)."""
    radius = 0.5 / charge
    columns = np.flatnonzero(s_shells.centers.numpy() == nucleus)
    exponents, contraction = s_shells.exponents.numpy()[columns], s_shells.coefficients.numpy()[columns]

    def s_part(r: np.ndarray, derivative: int) -> np.ndarray:
        """The s part on this nucleus of every orbital (len(r), n_orbitals), or its 1st / 2nd radial derivative."""
        gaussian = np.exp(-exponents * r[:, None, None] ** 2)
        factor = {0: 1.0, 1: -2 * exponents * r[:, None, None],
                  2: 4 * exponents**2 * r[:, None, None] ** 2 - 2 * exponents}[derivative]
        return (contraction * factor * gaussian).sum(-1) @ orbitals[columns]

    value_at_nucleus = s_part(np.zeros(1), 0)[0]
    grid = np.linspace(0.0, radius, 50)
    inside = s_part(grid, 0)
    polynomial, shift, sign = np.zeros((orbitals.shape[1], 5)), np.zeros(orbitals.shape[1]), np.zeros(orbitals.shape[1])
    at_radius = [s_part(np.array([radius]), k)[0] for k in range(3)]
    for orbital in range(orbitals.shape[1]):
        s0 = value_at_nucleus[orbital]
        if abs(s0) < 1e-8 * max(1.0, abs(at_nucleus[orbital])):
            continue  # zero here (a p orbital on this atom): nothing to cusp
        curve = inside[:, orbital] * np.sign(s0)
        shift[orbital] = 0.0 if curve.min() > 0.1 * abs(s0) else np.sign(s0) * (curve.min() - 0.1 * abs(s0))
        value, slope, curvature = (at_radius[k][orbital] - (shift[orbital] if k == 0 else 0.0) for k in range(3))
        sign[orbital] = np.sign(s0)
        alpha0 = np.log(abs(s0 - shift[orbital]))
        # φ'(0) = -Z φ(0) for the whole orbital; only the s part has a radial slope there
        alpha1 = -charge * at_nucleus[orbital] / (s0 - shift[orbital])
        targets = np.array([np.log(abs(value)) - alpha0 - alpha1 * radius, slope / value - alpha1,
                            curvature / value - (slope / value) ** 2])
        system = np.array([[radius**2, radius**3, radius**4], [2 * radius, 3 * radius**2, 4 * radius**3],
                           [2.0, 6 * radius, 12 * radius**2]])
        polynomial[orbital] = [alpha0, alpha1, *np.linalg.solve(system, targets)]
    return NucleusCusp(nucleus, radius, torch.from_numpy(columns), torch.from_numpy(polynomial),
                       torch.from_numpy(shift), torch.from_numpy(sign))


def cusp_corrected(atomic: torch.Tensor, coefficients: torch.Tensor, electrons: torch.Tensor, nuclei: torch.Tensor,
                   cusps: list[NucleusCusp]) -> torch.Tensor:
    """(N, n_orbitals) orbitals from atomic-orbital values (N, n_ao), with the s parts replaced near each nucleus."""
    orbitals = atomic @ coefficients
    for cusp in cusps:
        distance = torch.linalg.norm(electrons - nuclei[cusp.nucleus], dim=-1)[:, None]  # (N, 1)
        s_part = atomic[:, cusp.columns] @ coefficients[cusp.columns]
        r = torch.clamp(distance, max=cusp.radius)  # p(r) is only evaluated inside r_c: outside it may overflow
        powers = torch.cat([r**k for k in range(5)], dim=-1)  # (N, 5)
        replacement = cusp.shift + cusp.sign * torch.exp(powers @ cusp.polynomial.T)
        corrected = (distance < cusp.radius) & (cusp.sign != 0)
        orbitals = orbitals + torch.where(corrected, replacement - s_part, torch.zeros_like(s_part))
    return orbitals


def shell_groups(mol) -> tuple[list[ShellGroup], np.ndarray]:
    """The shells grouped by l, and for each of their functions its index in PySCF's AO order."""
    by_l: dict[int, list] = {}
    for shell in range(mol.nbas):
        l = mol.bas_angular(shell)
        contracted = mol._libcint_ctr_coeff(shell) * CARTESIAN_FACTOR.get(l, 1.0)
        first = mol.ao_loc_nr()[shell]
        for k in range(contracted.shape[1]):
            by_l.setdefault(l, []).append((mol.bas_atom(shell), mol.bas_exp(shell), contracted[:, k],
                                           first + k * (l + 1) * (l + 2) // 2))
    groups, order = [], []
    for l, shells in sorted(by_l.items()):
        width = max(len(exponents) for _, exponents, _, _ in shells)
        exponents, coefficients = np.zeros((len(shells), width)), np.zeros((len(shells), width))
        for row, (_, a, c, _) in enumerate(shells):
            exponents[row, :len(a)], coefficients[row, :len(c)] = a, c
        axes = torch.tensor(cartesian_axes(l), dtype=torch.long).reshape((l + 1) * (l + 2) // 2, l)
        groups.append(ShellGroup(l, torch.tensor([s[0] for s in shells]), torch.from_numpy(exponents),
                                 torch.from_numpy(coefficients), axes))
        n_cartesian = (l + 1) * (l + 2) // 2
        order.extend(start + m for *_, start in shells for m in range(n_cartesian))
    return groups, np.array(order)


def atomic_orbitals(groups: list[ShellGroup], electrons: torch.Tensor, nuclei: torch.Tensor) -> torch.Tensor:
    """(..., N, n_ao) values of every Cartesian Gaussian at every electron."""
    values = []
    for group in groups:
        offsets = electrons[..., :, None, :] - nuclei[group.centers]  # (..., N, S, 3)
        squared = (offsets**2).sum(-1)
        radial = (group.coefficients * torch.exp(-group.exponents * squared[..., None])).sum(-1)  # (..., N, S)
        if group.l == 0:
            values.append(radial)
            continue
        # x^i y^j z^k as a product of l gathered coordinates (no pow: its gradient at 0**0 is NaN)
        factors = offsets[..., group.axes.reshape(-1)].reshape(*offsets.shape[:-1], *group.axes.shape)
        values.append((radial[..., None] * factors.prod(-1)).flatten(-2))
    return torch.cat(values, dim=-1)
