"""The `Potential` protocol: energies of structures, with forces and stress by autograd.

Part of the core: it imports nothing of esml above the graph, so the ASE adapter
(:mod:`esml.calculator`) and everything that runs a model depend on this file alone, never on a
family. Every model family (ANI, PaiNN, GP, ensembles of any) is an ``nn.Module`` that maps an
:class:`~esml.graph.AtomicGraph` to energies of shape ``(n_members, n_structures)``
in eV; a single model has one member. A family implements only :meth:`Potential.atomic_energies`;
the per-element reference energies, the output scale and the float64 sum are shared here, as is
the error for an element the model never saw.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import ClassVar, NamedTuple

import torch
from ase.data import chemical_symbols
from torch import nn

from esml.errors import EsmlError, StructureError
from esml.graph import AtomicGraph

NO_DIPOLE = "predicts no charges or dipole; train one with --dipole-weight on frames labeled with dipoles"


class ExactBuffers(nn.Module):
    """A module whose buffers registered with :meth:`register_exact_buffer` stay float64 under
    ``.to(dtype)``, ``.float()``…: they follow device moves only."""

    def __init__(self):
        super().__init__()
        self.exact_buffers: set[str] = set()

    def register_exact_buffer(self, name: str, tensor: torch.Tensor, persistent: bool = True) -> None:
        """Register ``tensor`` (made float64 before any rounding) as a buffer kept float64."""
        if tensor.dtype != torch.float64:
            raise TypeError(f"buffer {name!r} must be created in float64, not rounded first and converted")
        self.register_buffer(name, tensor, persistent=persistent)
        self.exact_buffers.add(name)

    def _apply(self, fn, recurse=True):
        exact = {name: self._buffers[name] for name in self.exact_buffers}
        super()._apply(fn, recurse)
        for name, value in exact.items():
            self._buffers[name] = value.to(self._buffers[name].device)
        return self


class Potential(ExactBuffers):
    """Base of every model; ``config()`` returns the constructor arguments that rebuild it."""

    kind: ClassVar[str] = ""
    dtype: ClassVar[torch.dtype] = torch.float32  # what the calculator evaluates it in
    predicts_dipole: ClassVar[bool] = False  # has charges() and dipole() (esml.potentials.dipole)
    cutoff: float

    def __init__(self, species: Sequence[int], self_energies: Sequence[float] | None = None, energy_scale: float = 1.0):
        super().__init__()
        self.species = sorted(int(z) for z in species)
        table = torch.full((len(chemical_symbols),), -1, dtype=torch.int64)
        table[self.species] = torch.arange(len(self.species))
        self.register_buffer("species_table", table, persistent=False)
        # float64 whatever the model's precision: total energies of molecules are thousands of eV, so
        # rounded to float32 (steps of ~0.1 meV per atom) they would shift a structure by a meV
        energies = torch.zeros(len(self.species), dtype=torch.float64) if self_energies is None else torch.as_tensor(self_energies, dtype=torch.float64)
        self.register_exact_buffer("self_energies", energies)
        self.register_exact_buffer("energy_scale", torch.tensor(float(energy_scale), dtype=torch.float64))

    @property
    def n_members(self) -> int:
        return 1

    def config(self) -> dict:
        return {"species": self.species, "energy_scale": float(self.energy_scale)}

    @classmethod
    def settings_from_data(cls, frames: Sequence, options: dict) -> dict:
        """Constructor settings this family reads off its training frames (``ase.Atoms``) where
        ``options`` do not give them; none by default."""
        return {}

    @classmethod
    def from_config(cls, config: dict, build: Callable[[str, dict], Potential]) -> Potential:
        """The potential ``config()`` describes; a composite (an ensemble, a Δ-model) rebuilds its
        parts with ``build(kind, config)``."""
        return cls(**config)

    def species_of(self, numbers: torch.Tensor) -> torch.Tensor:
        """Index of each atom's element in ``self.species``; an unknown element is an error, never a zero."""
        index = self.species_table[numbers]
        if bool((index < 0).any()):
            unknown = sorted({chemical_symbols[z] for z in numbers[index < 0].tolist()})
            known = ", ".join(chemical_symbols[z] for z in self.species)
            raise StructureError(f"this model was not trained on {', '.join(unknown)} (it knows {known}); train it on data with these elements")
        return index

    def atomic_energies(self, graph: AtomicGraph, species: torch.Tensor, vectors: torch.Tensor) -> torch.Tensor:
        """Scaled-down energy of each atom (n_members, n_atoms) from the edge vectors (n_edges, 3) Å."""
        raise NotImplementedError

    def site_energies(self, graph: AtomicGraph, positions: torch.Tensor | None = None,
                      cell: torch.Tensor | None = None) -> torch.Tensor:
        """Each atom's share of the energy (n_members, n_atoms) float64 eV, reference energy included;
        they sum to the structure's energy (the model's own attribution to atoms)."""
        species = self.species_of(graph.numbers)
        atomic = self.atomic_energies(graph, species, graph.edge_vectors(positions, cell))
        return atomic.double() * self.energy_scale + self.self_energies[species]

    def forward(self, graph: AtomicGraph, positions: torch.Tensor | None = None, cell: torch.Tensor | None = None) -> torch.Tensor:
        """Energies (n_members, n_structures) float64 eV; ``positions``/``cell`` replace the graph's (strain for stress)."""
        per_atom = self.site_energies(graph, positions, cell)
        total = per_atom.new_zeros(per_atom.shape[0], graph.n_structures)
        return total.index_add(1, graph.structure, per_atom)

    def uncertainty(self, graph: AtomicGraph, prediction: Prediction, forces: bool = True) -> tuple[torch.Tensor, torch.Tensor | None]:
        """σ of each structure's energy (eV) and each force component (eV/Å): the spread over
        members, zero for one member. ``prediction`` must hold per-member forces when ``forces``."""
        energy = prediction.energy
        if energy.shape[0] < 2:
            return torch.zeros_like(energy[0]), torch.zeros_like(prediction.forces[0]) if forces else None
        return energy.std(0), prediction.forces.std(0) if forces else None

    def charges(self, graph: AtomicGraph, total_charge: torch.Tensor | None = None) -> torch.Tensor:
        """Atomic charges (n_members, n_atoms) e summing to ``total_charge`` (n_structures,), zero by default."""
        raise EsmlError(f"this {self.kind} model {NO_DIPOLE}")

    def dipole(self, graph: AtomicGraph, total_charge: torch.Tensor | None = None) -> torch.Tensor:
        """Dipole moments (n_members, n_structures, 3) e·Å of the charges."""
        return dipole_of(graph, self.charges(graph, total_charge))

    @classmethod
    def fuse(cls, members: Sequence[Potential]) -> Potential | None:
        """One batched potential that evaluates all ``members`` at once, or None where this family
        cannot batch them (then :func:`esml.potentials.ensemble.ensemble_of` stacks them)."""
        return None


def dipole_of(graph: AtomicGraph, charges: torch.Tensor) -> torch.Tensor:
    """Σ q_i r_i over each structure's atoms (n_members, n_structures, 3) e·Å, of charges (n_members, n_atoms)."""
    moments = charges.unsqueeze(-1) * graph.positions.to(charges.dtype)
    return moments.new_zeros(charges.shape[0], graph.n_structures, 3).index_add(1, graph.structure, moments)


class Prediction(NamedTuple):
    """energy (n_members, n_structures) eV; forces (n_members or 1, n_atoms, 3) eV/Å, the mean's
    forces unless per-member forces were asked; stress (n_structures, 3, 3) eV/Å³ (ASE's sign) or None."""

    energy: torch.Tensor
    forces: torch.Tensor | None
    stress: torch.Tensor | None


def predict(
    potential: Potential,
    graph: AtomicGraph,
    *,
    forces: bool = True,
    stress: bool = False,
    member_forces: bool = False,
    create_graph: bool = False,
) -> Prediction:
    """Energies, forces ``-dE/dr`` and stress ``(1/V) dE/dε`` by autograd."""
    leaf = graph.positions.detach().requires_grad_(forces)
    strain = torch.zeros_like(graph.cell, requires_grad=stress)
    positions, cell = leaf, graph.cell
    if stress:  # a homogeneous strain of every structure: r -> r (1 + ε), cell -> cell (1 + ε)
        positions = leaf + torch.einsum("ai,aij->aj", leaf, strain[graph.structure])
        cell = graph.cell + graph.cell @ strain
    energy = potential(graph, positions, cell)
    if not (forces or stress):
        return Prediction(energy, None, None)
    inputs = [t for t, wanted in ((leaf, forces), (strain, stress)) if wanted]
    if member_forces and energy.shape[0] > 1:
        eye = torch.eye(energy.shape[0], dtype=energy.dtype)
        grads = torch.autograd.grad(energy.sum(1), inputs, grad_outputs=eye, is_grads_batched=True, create_graph=create_graph)
    else:
        grads = [g.unsqueeze(0) for g in torch.autograd.grad(energy.mean(0).sum(), inputs, create_graph=create_graph)]
    force_grad = grads[0] if forces else None
    stress_out = None
    if stress:
        volume = torch.linalg.det(graph.cell).abs()
        stress_out = grads[-1].mean(0) / volume[:, None, None]
    return Prediction(energy, None if force_grad is None else -force_grad, stress_out)
