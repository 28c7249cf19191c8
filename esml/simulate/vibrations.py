"""Harmonic vibrations of any ASE calculator: the Hessian and dipole derivatives by central finite
differences of forces and dipoles, and normal modes with translations and rotations projected out.

Units: Hessian eV/Å², dipole derivatives e (e·Å per Å), masses amu, wavenumbers cm⁻¹. A normal
mode's ``vectors`` column is a unit vector in mass-weighted Cartesian space (Å·amu^½ per unit Q).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
from ase import Atoms, units
from ase.calculators.calculator import Calculator

from esml.errors import EsmlError
from esml.simulate.settings import DEFAULT_DISPLACEMENT

# ω (cm⁻¹) of a mass-weighted Hessian eigenvalue λ (eV/(Å²·amu)): ω = √λ · this
EIGENVALUE_TO_WAVENUMBER = np.sqrt(units._e / units._amu) * 1e10 / (2 * np.pi * units._c * 100)
# infrared intensity (km/mol) of a mode whose dipole derivative is 1 e/amu^½: N_A π / (3 c² 4πε₀) · e²/amu
INTENSITY_KM_PER_MOL = units._Nav * np.pi / (3 * units._c**2 * 4 * np.pi * units._eps0) * units._e**2 / units._amu / 1e3
Progress = Callable[[int, int], None]


@dataclass(frozen=True)
class SecondDerivatives:
    """``hessian`` (3N, 3N) eV/Å², symmetric; ``dipole`` (3N, 3) e, ∂μ/∂x of each coordinate, or
    None where the calculator gives no dipole."""

    hessian: np.ndarray
    dipole: np.ndarray | None


def second_derivatives(atoms: Atoms, calculator: Calculator, displacement: float = DEFAULT_DISPLACEMENT, dipole: bool = False,
                       progress: Progress | None = None) -> SecondDerivatives:
    """Central differences of the forces (and dipoles) over ±``displacement`` Å of each coordinate."""
    check_displacement(displacement)
    probe = atoms.copy()
    probe.calc = calculator
    n = 3 * len(atoms)
    hessian = np.empty((n, n))
    dipoles = np.empty((n, 3)) if dipole else None
    for coordinate in range(n):
        sides = []
        for sign in (1, -1):
            probe.positions = atoms.positions
            probe.positions.flat[coordinate] += sign * displacement
            sides.append((probe.get_forces().ravel(), probe.get_dipole_moment() if dipole else None))
        hessian[coordinate] = -(sides[0][0] - sides[1][0]) / (2 * displacement)
        if dipole:
            dipoles[coordinate] = (sides[0][1] - sides[1][1]) / (2 * displacement)
        if progress:
            progress(coordinate + 1, n)
    return SecondDerivatives(0.5 * (hessian + hessian.T), dipoles)


def gives_dipole(atoms: Atoms, calculator: Calculator) -> bool:
    """Whether ``calculator`` reports a dipole for ``atoms`` (a model trained with one, HF, DFT, xTB)."""
    from ase.calculators.calculator import PropertyNotImplementedError

    probe = atoms.copy()
    probe.calc = calculator
    try:
        probe.get_dipole_moment()
    except PropertyNotImplementedError:
        return False
    return True


def check_displacement(displacement: float) -> None:
    if not 1e-4 <= displacement <= 0.1:
        raise EsmlError(f"displacement {displacement:g} Å: finite differences need a step between 1e-4 and 0.1 Å (0.005 is usual)")


@dataclass(frozen=True)
class NormalModes:
    """The vibrations of ``atoms`` (the structure they were computed at).

    ``wavenumbers`` (n_modes,) cm⁻¹ ascending, an imaginary mode negative; ``vectors`` (3N, n_modes)
    orthonormal in mass-weighted coordinates, orthogonal to every translation (and, for a molecule,
    rotation), so a finite-difference Hessian leaves no spurious near-zero modes."""

    atoms: Atoms
    wavenumbers: np.ndarray
    vectors: np.ndarray

    @property
    def cartesian(self) -> np.ndarray:
        """(3N, n_modes) Cartesian displacement (Å) per unit mass-weighted normal coordinate (Å·amu^½)."""
        return self.vectors / np.sqrt(np.repeat(self.atoms.get_masses(), 3))[:, None]

    @property
    def zero_point_energy(self) -> float:
        """½ Σ hν (eV) over the real modes."""
        real = self.wavenumbers[self.wavenumbers > 0]
        return float(0.5 * real.sum() * units.invcm)

    def intensities(self, dipole_derivatives: np.ndarray) -> np.ndarray:
        """Infrared intensity of each mode (km/mol) from ∂μ/∂x (3N, 3) e: |∂μ/∂Q|² in the double-harmonic approximation."""
        along_modes = self.cartesian.T @ dipole_derivatives
        return INTENSITY_KM_PER_MOL * (along_modes**2).sum(axis=1)


def normal_modes(atoms: Atoms, hessian: np.ndarray) -> NormalModes:
    """Diagonalise the mass-weighted Hessian in the space orthogonal to rigid motions."""
    root_masses = np.sqrt(np.repeat(atoms.get_masses(), 3))
    weighted = hessian / np.outer(root_masses, root_masses)
    internal = internal_basis(atoms)
    eigenvalues, rotation = np.linalg.eigh(internal.T @ weighted @ internal)
    wavenumbers = np.sign(eigenvalues) * np.sqrt(np.abs(eigenvalues)) * EIGENVALUE_TO_WAVENUMBER
    return NormalModes(atoms.copy(), wavenumbers, internal @ rotation)


def internal_basis(atoms: Atoms) -> np.ndarray:
    """(3N, 3N − rigid) orthonormal basis of the mass-weighted displacements that neither translate
    nor (for a molecule) rotate the structure."""
    rigid = rigid_motions(atoms)
    left, singular, _ = np.linalg.svd(rigid, full_matrices=True)
    rank = int((singular > 1e-6 * singular[0]).sum())
    return left[:, rank:]


def rigid_motions(atoms: Atoms) -> np.ndarray:
    """(3N, 6) mass-weighted translations and infinitesimal rotations about the centre of mass;
    a periodic structure has translations only (3N, 3). A linear molecule's rotations have rank 2."""
    masses = atoms.get_masses()
    root = np.sqrt(masses)[:, None]
    translations = [np.ravel(root * np.eye(3)[axis]) for axis in range(3)]
    if atoms.pbc.any():
        return np.stack(translations, axis=1)
    centred = atoms.positions - atoms.get_center_of_mass()
    rotations = [np.ravel(root * np.cross(np.eye(3)[axis], centred)) for axis in range(3)]
    return np.stack(translations + rotations, axis=1)


def harmonic_modes(atoms: Atoms, calculator: Calculator, displacement: float = DEFAULT_DISPLACEMENT, dipole: bool = False,
                   progress: Progress | None = None) -> tuple[NormalModes, SecondDerivatives]:
    """Normal modes of ``atoms`` under ``calculator`` and the derivatives they came from."""
    derivatives = second_derivatives(atoms, calculator, displacement, dipole, progress)
    return normal_modes(atoms, derivatives.hessian), derivatives
