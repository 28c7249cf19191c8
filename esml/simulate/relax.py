"""Geometry optimisation and harmonic vibrational frequencies with any ASE calculator."""

from __future__ import annotations

import tempfile
from dataclasses import dataclass

import numpy as np
from ase import Atoms
from ase.calculators.calculator import Calculator

from esml.errors import EsmlError


def optimise(atoms: Atoms, calculator: Calculator, fmax: float = 0.005, steps: int = 1000) -> Atoms:
    """The structure relaxed with BFGS until every force is under ``fmax`` eV/Å (a copy)."""
    from ase.optimize import BFGS

    atoms = atoms.copy()
    atoms.calc = calculator
    if not BFGS(atoms, logfile=None).run(fmax=fmax, steps=steps):
        largest = float(np.linalg.norm(atoms.get_forces(), axis=1).max())
        raise EsmlError(f"the optimisation did not reach fmax {fmax} eV/Å in {steps} steps (largest force {largest:.3f}); "
                        "raise --steps or check the structure")
    return atoms


@dataclass(frozen=True)
class Frequencies:
    """Harmonic frequencies in cm⁻¹; imaginary modes are negative. ``zero_point_energy`` eV."""

    wavenumbers: np.ndarray
    zero_point_energy: float

    def vibrational(self, atoms: Atoms) -> np.ndarray:
        """The 3N-6 (3N-5 if linear) highest modes, the translations and rotations removed."""
        n_rigid = 5 if _is_linear(atoms) else 6
        order = np.argsort(np.abs(self.wavenumbers))
        return np.sort(self.wavenumbers[order[n_rigid:]])


def harmonic_frequencies(atoms: Atoms, calculator: Calculator, displacement: float = 0.005) -> Frequencies:
    """Frequencies from central finite differences of the forces (ASE's Vibrations), displacement in Å."""
    from ase.vibrations import Vibrations

    atoms = atoms.copy()
    atoms.calc = calculator
    with tempfile.TemporaryDirectory() as folder:
        vibrations = Vibrations(atoms, delta=displacement, name=f"{folder}/vib")
        vibrations.run()
        data = vibrations.get_vibrations()
    frequencies = data.get_frequencies()  # complex: an imaginary mode has an imaginary frequency
    wavenumbers = np.where(np.abs(frequencies.imag) > np.abs(frequencies.real), -np.abs(frequencies.imag), frequencies.real)
    return Frequencies(wavenumbers.astype(float), float(data.get_zero_point_energy()))


def _is_linear(atoms: Atoms) -> bool:
    if len(atoms) < 3:
        return True
    centred = atoms.positions - atoms.positions.mean(axis=0)
    return np.linalg.svd(centred, compute_uv=False)[1] < 1e-3
