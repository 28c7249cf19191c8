"""The energy landscape a search walks: every evaluation counted, local relaxation, and which minima are the same."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from ase import Atoms
from ase.calculators.calculator import Calculator
from scipy.optimize import minimize

from esml.search import pair
from esml.search.pair import LennardJones, Morse, evaluate


class Landscape:
    """Energy (eV), forces (eV/Å) and, where the calculator gives them, per-atom energies of one
    system's positions. ``evaluations`` counts every calculation, those of the local relaxations
    included: each is one energy-and-forces call of the calculator, an oracle call when it is xTB or DFT."""

    def __init__(self, atoms: Atoms, calculator: Calculator | LennardJones | Morse):
        self.atoms = atoms.copy()
        self.calculator = calculator
        self.evaluations = 0
        if isinstance(calculator, Calculator):
            self.atoms.calc = calculator

    def __call__(self, positions: np.ndarray) -> tuple[float, np.ndarray, np.ndarray | None]:
        if not isinstance(self.calculator, Calculator):
            self.evaluations += 1
            return evaluate(self.calculator, positions)
        self.atoms.positions = positions
        if self.calculator.calculation_required(self.atoms, ["energy", "forces"]):
            self.evaluations += 1  # a call ASE answers from the previous results costs nothing
        forces = self.atoms.get_forces()  # first: asked for forces, a calculator gives the energy in the same call
        energy = self.atoms.get_potential_energy()
        per_atom = "energies" in self.calculator.implemented_properties
        return float(energy), forces, self.atoms.get_potential_energies() if per_atom else None


@dataclass(frozen=True)
class Minimum:
    """A relaxed structure: positions (n, 3) Å, energy eV, per-atom energies where known."""

    positions: np.ndarray
    energy: float
    energies: np.ndarray | None


def relax(landscape: Landscape, positions: np.ndarray, fmax: float, max_steps: int) -> Minimum:
    """The local minimum below ``positions`` by L-BFGS until no force component exceeds ``fmax`` eV/Å:
    SciPy's for an ASE calculator, a compiled one for a pair potential (:func:`esml.search.pair.relax`)."""
    if not isinstance(landscape.calculator, Calculator):
        minimum, energy, energies, evaluations = pair.relax(landscape.calculator, positions, fmax, max_steps)
        landscape.evaluations += evaluations
        return Minimum(minimum, energy, energies)
    last: dict = {}

    def energy_and_gradient(x: np.ndarray):
        energy, forces, energies = landscape(x.reshape(-1, 3))
        last.update(x=x.copy(), energies=energies)
        return energy, -forces.ravel()

    result = minimize(energy_and_gradient, positions.ravel(), jac=True, method="L-BFGS-B",
                      options={"gtol": fmax, "maxiter": max_steps, "maxcor": 20})
    energies = last["energies"] if (last["x"] == result.x).all() else None
    return Minimum(result.x.reshape(-1, 3), float(result.fun), energies)


def fingerprint(positions: np.ndarray) -> np.ndarray:
    """The sorted interatomic distances: the same under any rotation, translation or relabelling of atoms."""
    i, j = np.triu_indices(len(positions), k=1)
    return np.sort(np.linalg.norm(positions[i] - positions[j], axis=1))


def same_minimum(a: Minimum, b: Minimum, energy_tolerance: float, distance_tolerance: float = 0.01) -> bool:
    """Whether two minima are one structure: energies within ``energy_tolerance`` eV and sorted
    distances within ``distance_tolerance`` Å (root mean square)."""
    if abs(a.energy - b.energy) > energy_tolerance:
        return False
    difference = fingerprint(a.positions) - fingerprint(b.positions)
    return float(np.sqrt(np.mean(difference**2))) < distance_tolerance
