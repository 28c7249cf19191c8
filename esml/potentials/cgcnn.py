"""CGCNN: the crystal-graph convolutional network (Xie and Grossman, PRL 120, 145301, 2018) as a potential.

Each atom carries a feature vector v (n_atoms, F); each edge the distance expanded in Gaussians u_ij.
A convolution gates the message from every neighbour:

    z_ij = [v_i, v_j, u_ij]      v_i ← softplus(v_i + Σ_j σ(z_ij W_f + b_f) ⊙ softplus(z_ij W_s + b_s) · f_c(r_ij) / 10)

and an MLP turns each atom's final features into its energy. Unlike the original (which pools
atoms into one crystal vector and predicts energy per atom), the energy here is a sum of atomic
energies times a smooth cosine cutoff on every message, so forces and stress follow by
autograd and the model is a `Potential` like the others: it runs MD, relaxes cells, and scans
volumes. Batch normalisation is left out: with a handful of crystals per step it only adds noise.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import nn

from esml.graph import AtomicGraph
from esml.potentials.ani import cosine_cutoff
from esml.potentials.message_passing import MessagePassing

#: Sums over a dense crystal's dozens of neighbours are divided by this, so features keep order one
#: (the original's fixed 12 nearest neighbours did the same job; it measured better on Si-C than no scale).
MESSAGE_SCALE = 10.0


def gaussian_basis(distances: torch.Tensor, n_basis: int, cutoff: float) -> torch.Tensor:
    """(n_edges, n_basis) Gaussians of width one spacing centred evenly on [0, cutoff]."""
    centres = torch.linspace(0.0, cutoff, n_basis, dtype=distances.dtype)
    width = cutoff / (n_basis - 1)
    return torch.exp(-(((distances.unsqueeze(1) - centres) / width) ** 2))


class Convolution(nn.Module):
    def __init__(self, features: int, n_basis: int):
        super().__init__()
        self.features = features
        self.linear = nn.Linear(2 * features + n_basis, 2 * features)

    def forward(self, v, edges, basis, envelope):
        i, j = edges
        gate, core = torch.split(self.linear(torch.cat([v[i], v[j], basis], dim=1)), self.features, dim=1)
        message = torch.sigmoid(gate) * nn.functional.softplus(core) * envelope.unsqueeze(1)
        return nn.functional.softplus(v.index_add(0, i, message / MESSAGE_SCALE))


class CGCNNPotential(MessagePassing):
    """CGCNN with ``features`` channels, ``layers`` convolutions, ``n_basis`` Gaussians, cutoff in Å."""

    kind = "cgcnn"

    def __init__(self, species: Sequence[int], *, features: int = 64, layers: int = 3, n_basis: int = 40,
                 cutoff: float = 4.0, self_energies: Sequence[float] | None = None, energy_scale: float = 1.0):
        super().__init__(species, features, layers, n_basis, cutoff, self_energies, energy_scale)
        self.convolutions = nn.ModuleList(Convolution(features, n_basis) for _ in range(layers))
        self.readout = self.zero_last_layer(
            nn.Sequential(nn.Linear(features, features), nn.Softplus(), nn.Linear(features, 1)))

    def atomic_energies(self, graph: AtomicGraph, species: torch.Tensor, vectors: torch.Tensor) -> torch.Tensor:
        edges, vectors = self.edges_inside_cutoff(graph, vectors)
        distances = vectors.norm(dim=1)
        basis = gaussian_basis(distances, self.n_basis, self.cutoff)
        envelope = cosine_cutoff(distances, self.cutoff)
        v = self.embedding(species)
        for convolution in self.convolutions:
            v = convolution(v, edges, basis, envelope)
        return self.readout(v).squeeze(1).unsqueeze(0)
