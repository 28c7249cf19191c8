"""Geometry optimisation and harmonic vibrational frequencies with any ASE calculator."""

from __future__ import annotations

import tempfile
from dataclasses import dataclass

import numpy as np
from ase import Atoms, units
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
    """Harmonic frequencies in cm⁻¹, all 3N of them; imaginary modes are negative. ``rigid`` is
    how many of them are translations and rotations: 6, 5 for a linear molecule, 3 for a cell."""

    wavenumbers: np.ndarray
    rigid: int

    @property
    def vibrational(self) -> np.ndarray:
        """The 3N − ``rigid`` modes farthest from zero, ascending: the translations and rotations,
        which finite differences leave near zero but not at it, removed."""
        order = np.argsort(np.abs(self.wavenumbers))
        return np.sort(self.wavenumbers[order[self.rigid:]])

    @property
    def zero_point_energy(self) -> float:
        """½ Σ hν (eV) over the real vibrational modes only. ASE's own sum takes in the rigid modes
        as well: 1.7 meV too much for GFN2-xTB's water, 40 meV for esml-xc3/STO-3G's, whose
        integration grid leaves them at ~100 cm⁻¹."""
        modes = self.vibrational
        return float(0.5 * modes[modes > 0].sum() * units.invcm)


def harmonic_frequencies(atoms: Atoms, calculator: Calculator, displacement: float = 0.005) -> Frequencies:
    """Frequencies from central finite differences of the forces (ASE's Vibrations), displacement in Å."""
    if not 1e-4 <= displacement <= 0.1:
        raise EsmlError(f"displacement {displacement:g} Å: finite differences need a step between 1e-4 and 0.1 Å (0.005 is usual)")
    from ase.vibrations import Vibrations

    atoms = atoms.copy()
    atoms.calc = calculator
    with tempfile.TemporaryDirectory() as folder:
        vibrations = Vibrations(atoms, delta=displacement, name=f"{folder}/vib")
        vibrations.run()
        frequencies = vibrations.get_vibrations().get_frequencies()
    # complex: an imaginary mode has an imaginary frequency
    wavenumbers = np.where(np.abs(frequencies.imag) > np.abs(frequencies.real), -np.abs(frequencies.imag), frequencies.real)
    return Frequencies(wavenumbers.astype(float), rigid_modes(atoms))


def rigid_modes(atoms: Atoms) -> int:
    """Translations and rotations among the 3N modes: a periodic cell has no rotations."""
    if atoms.pbc.any():
        return 3
    return 5 if _is_linear(atoms) else 6


def _is_linear(atoms: Atoms) -> bool:
    if len(atoms) < 3:
        return True
    centred = atoms.positions - atoms.positions.mean(axis=0)
    return np.linalg.svd(centred, compute_uv=False)[1] < 1e-3
