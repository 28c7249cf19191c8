"""An ensemble of any potentials: members evaluated one after another, energies stacked.

Its spread is the uncertainty the active learner uses. ANI ensembles do better: they are
fused into one batched model by :meth:`esml.potentials.ani.ANIPotential.fuse`;
:func:`ensemble_of` chooses between the two.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import torch
from torch import nn

from esml.graph import AtomicGraph
from esml.potential import Potential


class Ensemble(Potential):
    kind = "ensemble"

    def __init__(self, members: Sequence[Potential]):
        species = sorted({z for member in members for z in member.species})
        if any(member.species != species for member in members):
            raise ValueError("ensemble members must know the same elements")
        super().__init__(species)
        self.members = nn.ModuleList(members)
        self.cutoff = max(member.cutoff for member in members)

    @property
    def n_members(self) -> int:
        return sum(member.n_members for member in self.members)

    def config(self) -> dict:
        return {"members": [{"kind": m.kind, "config": m.config()} for m in self.members]}

    @classmethod
    def from_config(cls, config: dict, build: Callable[[str, dict], Potential]) -> Ensemble:
        return cls([build(member["kind"], member["config"]) for member in config["members"]])

    def forward(self, graph: AtomicGraph, positions: torch.Tensor | None = None, cell: torch.Tensor | None = None) -> torch.Tensor:
        return torch.cat([member(graph, positions, cell) for member in self.members])

    def site_energies(self, graph: AtomicGraph, positions: torch.Tensor | None = None,
                      cell: torch.Tensor | None = None) -> torch.Tensor:
        return torch.cat([member.site_energies(graph, positions, cell) for member in self.members])

    @property
    def predicts_dipole(self) -> bool:
        return all(member.predicts_dipole for member in self.members)

    def charges(self, graph: AtomicGraph, total_charge: torch.Tensor | None = None) -> torch.Tensor:
        return torch.cat([member.charges(graph, total_charge) for member in self.members])


def ensemble_of(members: Sequence[Potential]) -> Potential:
    """One potential that evaluates all ``members``: fused by their family where it can batch them."""
    return type(members[0]).fuse(members) or Ensemble(members)
