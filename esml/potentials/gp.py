"""A sparse Gaussian-process potential on ANI atomic environment vectors (the GAP/FLARE idea).

The energy of a structure is a sum of atomic energies, each a GP in the atom's descriptor q:

    E = Σ_i f(q_i),   f(q) = Σ_m k(q, Q_m) w_m,   k(q, q') = exp(-|q - q'|² / 2ℓ²)  (same element only)

with M inducing environments Q_m drawn from the training data. The squared exponential acts on the
raw AEVs, whose length carries the coordination; in development trials on ethanol it fitted forces
clearly better than a normalised dot-product (SOAP-style) kernel on the same descriptors, and
better than rescaled or standardised AEVs. ℓ is chosen by evidence. Energies and forces are both
linear in w, so training (``esml.training.gp``) is Bayesian linear regression: exact, fast, and
with a posterior covariance. Forces come from autograd like every potential's; the posterior
standard deviation of energies and force components comes from :meth:`uncertainty`.

Everything runs in float64: the variance is a norm of a product with an ill-conditioned inverse.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict

import torch

from esml.graph import AtomicGraph
from esml.potential import Potential, Prediction
from esml.potentials.ani import AEVComputer, AEVParameters


class GaussianProcessPotential(Potential):
    """Buffers: ``inducing`` (M, D) descriptors, ``inducing_species`` (M,) element indices,
    ``weights`` (M,) eV, ``posterior`` (M, R) with σ² = |φ @ posterior|² for a kernel row φ."""

    kind = "gp"
    dtype = torch.float64

    def __init__(self, species: Sequence[int], *, aev: dict | None = None, length_scale: float = 8.0, n_inducing: int = 0,
                 rank: int = 0, hyperparameters: dict | None = None, self_energies: Sequence[float] | None = None, energy_scale: float = 1.0):
        super().__init__(species, self_energies, energy_scale)
        self.aev_parameters = AEVParameters(**(aev or {}))
        self.cutoff = self.aev_parameters.radial_cutoff
        self.length_scale = float(length_scale)
        self.hyperparameters = dict(hyperparameters or {})
        self.aev_computer = AEVComputer(len(self.species), self.aev_parameters)
        length = self.aev_computer.length
        self.register_buffer("inducing", torch.zeros(n_inducing, length, dtype=torch.float64))
        self.register_buffer("inducing_species", torch.zeros(n_inducing, dtype=torch.int64))
        self.register_buffer("weights", torch.zeros(n_inducing, dtype=torch.float64))
        self.register_buffer("posterior", torch.zeros(n_inducing, rank, dtype=torch.float64))
        self.double()

    def config(self) -> dict:
        return {**super().config(), "aev": asdict(self.aev_parameters), "length_scale": self.length_scale,
                "n_inducing": int(self.weights.numel()), "rank": int(self.posterior.shape[1]),
                "hyperparameters": self.hyperparameters}

    def atomic_energies(self, graph: AtomicGraph, species: torch.Tensor, vectors: torch.Tensor) -> torch.Tensor:
        aev = self.aev_computer(graph, species, vectors.double())
        return (self.kernel(aev, species) @ self.weights).unsqueeze(0)

    def kernel(self, aev: torch.Tensor, species: torch.Tensor) -> torch.Tensor:
        """k(q_i, Q_m) (n_atoms, M): zero between different elements."""
        return kernel_matrix(aev, species, self.inducing, self.inducing_species, self.length_scale)

    def kernel_rows(self, graph: AtomicGraph, species: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """For one structure: the energy's kernel row (M,) and the forces' rows (3 n_atoms, M)."""
        aev, jacobian = descriptor_jacobian(self.aev_computer, graph, species)
        return kernel_rows(aev, jacobian, species, self.inducing, self.inducing_species, self.length_scale)

    def uncertainty(self, graph: AtomicGraph, prediction: Prediction, forces: bool = True) -> tuple[torch.Tensor, torch.Tensor | None]:
        """Posterior σ of each structure's energy (eV) and, when asked, of each force component (eV/Å).
        The energy's needs one kernel evaluation; the forces' need the descriptors' Jacobian."""
        species = self.species_of(graph.numbers)
        if not forces:
            with torch.no_grad():
                kernel = self.kernel(self.aev_computer(graph, species, graph.edge_vectors().double()), species)
                rows = kernel.new_zeros(graph.n_structures, kernel.shape[1]).index_add(0, graph.structure, kernel)
            return (rows @ self.posterior).norm(dim=1), None
        energy_std, force_std = [], []
        for index in range(graph.n_structures):
            part = single_structure(graph, index)
            energy_row, force_rows = self.kernel_rows(part, species[graph.structure == index])
            energy_std.append((energy_row @ self.posterior).norm())
            force_std.append((force_rows @ self.posterior).norm(dim=1).reshape(-1, 3))
        return torch.stack(energy_std), torch.cat(force_std)


def kernel_matrix(aev: torch.Tensor, species: torch.Tensor, inducing: torch.Tensor, inducing_species: torch.Tensor,
                  length_scale: float) -> torch.Tensor:
    """exp(-|q_i - Q_m|² / 2ℓ²) for atoms and inducing environments of the same element, else 0."""
    same = species.unsqueeze(1) == inducing_species.unsqueeze(0)
    return torch.where(same, torch.exp(-squared_distances(aev, inducing) / (2.0 * length_scale**2)), 0.0)


def squared_distances(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    """|a_i - b_m|² (n, M) by one matrix product; rounding never makes it negative."""
    return ((a * a).sum(1, keepdim=True) + (b * b).sum(1) - 2.0 * a @ b.t()).clamp(min=0.0)


def descriptor_jacobian(computer: AEVComputer, graph: AtomicGraph, species: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """AEVs (n_atoms, D) and their derivatives (n_atoms, D, 3 n_atoms) with respect to positions."""
    return computer.jacobian(graph, species, graph.edge_vectors(graph.positions.detach()).double())


def kernel_rows(aev: torch.Tensor, jacobian: torch.Tensor, species: torch.Tensor, inducing: torch.Tensor,
                inducing_species: torch.Tensor, length_scale: float) -> tuple[torch.Tensor, torch.Tensor]:
    """Σ_i k(q_i, Q_m) (M,) and its negative position gradient (3 n_atoms, M), by the chain rule
    ∂k/∂q_i = -k (q_i - Q_m)/ℓ² through the descriptors' Jacobian (n_atoms, D, 3 n_atoms).
    The kernel is zero between elements, so each element's atoms meet only its own inducing columns."""
    energy_row = aev.new_zeros(len(inducing))
    force_rows = aev.new_zeros(jacobian.shape[2], len(inducing))
    for element in species.unique():
        atoms, columns = species == element, inducing_species == element
        mine, theirs = jacobian[atoms], inducing[columns]
        kernel = torch.exp(-squared_distances(aev[atoms], theirs) / (2.0 * length_scale**2))
        along_inducing = torch.einsum("ida,md->iam", mine, theirs)
        along_self = torch.einsum("ida,id->ia", mine, aev[atoms])
        energy_row[columns] = kernel.sum(0)
        force_rows[:, columns] = (kernel.unsqueeze(1) * (along_self.unsqueeze(2) - along_inducing)).sum(0) / length_scale**2
    return energy_row, force_rows


def single_structure(graph: AtomicGraph, index: int) -> AtomicGraph:
    """Structure ``index`` of a batch as a graph of its own, atoms renumbered from zero."""
    if graph.n_structures == 1:
        return graph
    atoms = torch.nonzero(graph.structure == index).squeeze(1)
    renumber = torch.full_like(graph.structure, -1)
    renumber[atoms] = torch.arange(atoms.numel())
    edges = graph.structure[graph.edges[0]] == index
    return AtomicGraph(graph.numbers[atoms], graph.positions[atoms], graph.cell[index:index + 1],
                       torch.zeros_like(atoms), renumber[graph.edges[:, edges]], graph.shifts[edges], 1)
