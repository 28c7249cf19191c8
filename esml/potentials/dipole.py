"""A potential that also predicts the dipole: atomic charges from a second network of the same
family, μ = Σ_i q_i r_i (Gastegger, Behler & Marquetand, Chem. Sci. 8, 6924 (2017)).

The charges of each structure are shifted equally so that they sum to its total charge, so a
neutral molecule's dipole does not depend on the origin and rotates with the molecule (the charges
are invariant, the positions rotate). A charged molecule's dipole is taken about the origin of
its coordinates, as PySCF and xTB report theirs; its labels are only comparable in that frame.
Energies, forces and uncertainties are the energy network's alone.
"""

from __future__ import annotations

from collections.abc import Callable

import torch

from esml.graph import AtomicGraph
from esml.potential import Potential, Prediction


class DipolePotential(Potential):
    kind = "dipole"
    predicts_dipole = True

    def __init__(self, energy: Potential, charges: Potential):
        if energy.species != charges.species:
            raise ValueError("the energy and charge networks must know the same elements")
        super().__init__(energy.species)
        self.energy = energy
        self.charge_network = charges
        self.cutoff = max(energy.cutoff, charges.cutoff)
        self.dtype = energy.dtype

    @property
    def n_members(self) -> int:
        return self.energy.n_members

    def config(self) -> dict:
        return {part: {"kind": model.kind, "config": model.config()}
                for part, model in (("energy", self.energy), ("charges", self.charge_network))}

    @classmethod
    def from_config(cls, config: dict, build: Callable[[str, dict], Potential]) -> DipolePotential:
        return cls(*(build(config[part]["kind"], config[part]["config"]) for part in ("energy", "charges")))

    def forward(self, graph: AtomicGraph, positions: torch.Tensor | None = None, cell: torch.Tensor | None = None) -> torch.Tensor:
        return self.energy(graph, positions, cell)

    def site_energies(self, graph: AtomicGraph, positions: torch.Tensor | None = None,
                      cell: torch.Tensor | None = None) -> torch.Tensor:
        return self.energy.site_energies(graph, positions, cell)

    def uncertainty(self, graph: AtomicGraph, prediction: Prediction, forces: bool = True) -> tuple[torch.Tensor, torch.Tensor | None]:
        return self.energy.uncertainty(graph, prediction, forces)

    def charges(self, graph: AtomicGraph, total_charge: torch.Tensor | None = None) -> torch.Tensor:
        """(n_members, n_atoms) float64 e, summing to ``total_charge`` (n_structures,) (zero by default) in each structure."""
        raw = self.charge_network.site_energies(graph)
        counts = graph.n_atoms_per_structure.to(raw.dtype)
        excess = raw.new_zeros(raw.shape[0], graph.n_structures).index_add(1, graph.structure, raw)
        if total_charge is not None:
            excess = excess - total_charge.to(raw.dtype)
        return raw - (excess / counts)[:, graph.structure]
