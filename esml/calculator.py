"""One ASE calculator for every esml potential (part of the core: it knows the `Potential`
protocol, never a family; :func:`esml.potentials.load_calculator` makes one from a model file).

Results (ASE units): ``energy``/``free_energy`` eV (mean over ensemble members), ``forces``
(n_atoms, 3) eV/Å, ``stress`` (6,) eV/Å³ in Voigt order for fully periodic cells, and the model's
uncertainty when asked for, which is what the active learner reads: ``energy_std`` eV and
``forces_std`` (n_atoms, 3) eV/Å (the spread over ensemble members, or a GP's posterior σ).
A model trained with dipoles also gives ``dipole`` (3,) e·Å and ``charges`` (n_atoms,) e, so
ASE's ``Infrared`` and esml's spectra run on it; the structure's charge is ``atoms.info["charge"]``.

A calculator made from a model file of ``esml learn`` multiplies ``forces_std`` by the factor
the run calibrated on its validation frames (``calibration_scale`` in the file), so that ±σ
holds 68 % of the force errors; ``energy_std`` stays the model's own.
"""

from __future__ import annotations

import copy
from collections.abc import Callable

import torch
from ase.calculators.calculator import Calculator, PropertyNotImplementedError, all_changes

from esml.graph import atoms_to_graph
from esml.potential import NO_DIPOLE, Potential, dipole_of, predict


class PotentialCalculator(Calculator):
    implemented_properties = ["energy", "free_energy", "forces", "stress", "energy_std", "forces_std", "dipole", "charges"]

    def __init__(self, potential: Potential, dtype: torch.dtype | None = None, force_sigma_scale: float = 1.0, **kwargs):
        super().__init__(**kwargs)
        self.dtype = dtype or potential.dtype
        self.force_sigma_scale = force_sigma_scale
        # a private frozen copy: MD never sees a model that training goes on changing
        self.potential = copy.deepcopy(potential).to(self.dtype).eval().requires_grad_(False)

    def calculate(self, atoms=None, properties=("energy",), system_changes=all_changes):
        super().calculate(atoms, properties, system_changes)
        stress = "stress" in properties
        if stress and not self.atoms.pbc.all():
            raise PropertyNotImplementedError("stress needs a cell periodic in all three directions")
        if {"dipole", "charges"} & set(properties) and not self.potential.predicts_dipole:
            raise PropertyNotImplementedError(f"this {self.potential.kind} model {NO_DIPOLE}")
        graph = atoms_to_graph(self.atoms, self.potential.cutoff, self.dtype)
        want_std = "forces_std" in properties
        prediction = predict(self.potential, graph, stress=stress, member_forces=want_std)
        energy = float(prediction.energy[:, 0].detach().mean())
        self.results = {
            "energy": energy,
            "free_energy": energy,
            "forces": prediction.forces.mean(0).detach().to(torch.float64).numpy(),
        }
        if want_std or "energy_std" in properties:  # only when asked: a GP's σ costs a second pass
            energy_std, forces_std = self.potential.uncertainty(graph, prediction, forces=want_std)
            self.results["energy_std"] = float(energy_std[0].detach())
            if want_std:
                self.results["forces_std"] = self.force_sigma_scale * forces_std.detach().to(torch.float64).numpy()
        if self.potential.predicts_dipole:  # cheap next to the forces: always, so a later get_dipole_moment costs nothing
            charges = self.potential.charges(graph, torch.tensor([float(self.atoms.info.get("charge", 0))])).detach()
            self.results["charges"] = charges.mean(0).numpy()
            self.results["dipole"] = dipole_of(graph, charges).mean(0)[0].numpy()
        if stress:
            full = prediction.stress[0].detach().to(torch.float64).numpy()
            self.results["stress"] = full[[0, 1, 2, 1, 0, 0], [0, 1, 2, 2, 2, 1]]


def force_uncertainty(calc: Calculator, atoms) -> Callable[[object], float] | None:
    """A function of a structure: the σ of ``calc``'s forces there, mean over components (eV/Å).
    None when the model has none: a reference method, or one network, whose σ at ``atoms`` is zero."""
    if not isinstance(calc, PotentialCalculator):
        return None

    def sigma(structure) -> float:
        return float(calc.get_property("forces_std", structure).mean())

    probe = atoms.copy()
    probe.calc = calc
    return sigma if sigma(probe) > 0 else None
