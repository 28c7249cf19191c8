"""One ASE calculator for every esml potential.

Results (ASE units): ``energy``/``free_energy`` eV (mean over ensemble members), ``forces``
(n_atoms, 3) eV/Å, ``stress`` (6,) eV/Å³ in Voigt order for fully periodic cells. Ensembles
add ``energy_std`` eV and, when asked for, ``forces_std`` (n_atoms, 3) eV/Å: the spread over
members, which is what the active learner reads.
"""

from __future__ import annotations

import copy
from pathlib import Path

import numpy as np
import torch
from ase.calculators.calculator import Calculator, PropertyNotImplementedError, all_changes

from esml.potentials.base import Potential, predict
from esml.potentials.files import load
from esml.potentials.graph import atoms_to_graph


class PotentialCalculator(Calculator):
    implemented_properties = ["energy", "free_energy", "forces", "stress", "energy_std", "forces_std"]

    def __init__(self, potential: Potential, dtype: torch.dtype = torch.float32, **kwargs):
        super().__init__(**kwargs)
        # a private frozen copy: MD never sees a model that training goes on changing
        self.potential = copy.deepcopy(potential).to(dtype).eval().requires_grad_(False)
        self.dtype = dtype

    def calculate(self, atoms=None, properties=("energy",), system_changes=all_changes):
        super().calculate(atoms, properties, system_changes)
        stress = "stress" in properties
        if stress and not self.atoms.pbc.all():
            raise PropertyNotImplementedError("stress needs a cell periodic in all three directions")
        graph = atoms_to_graph(self.atoms, self.potential.cutoff, self.dtype)
        member_forces = "forces_std" in properties and self.potential.n_members > 1
        prediction = predict(self.potential, graph, stress=stress, member_forces=member_forces)
        energies = prediction.energy[:, 0].detach().numpy()
        forces = prediction.forces.detach().to(torch.float64).numpy()
        self.results = {
            "energy": float(energies.mean()),
            "free_energy": float(energies.mean()),
            "forces": forces.mean(0),
            "energy_std": float(energies.std(ddof=1)) if len(energies) > 1 else 0.0,
        }
        if member_forces:
            self.results["forces_std"] = forces.std(0, ddof=1)
        elif "forces_std" in properties:
            self.results["forces_std"] = np.zeros_like(forces[0])
        if stress:
            full = prediction.stress[0].detach().to(torch.float64).numpy()
            self.results["stress"] = full[[0, 1, 2, 1, 0, 0], [0, 1, 2, 2, 2, 1]]


def calculator(model: Potential | str | Path, **kwargs) -> PotentialCalculator:
    """An ASE calculator for a potential or a saved model file."""
    potential = model if isinstance(model, Potential) else load(model)
    return PotentialCalculator(potential, **kwargs)
