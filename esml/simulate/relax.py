"""Geometry optimisation with any ASE calculator."""

from __future__ import annotations

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
