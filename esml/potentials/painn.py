"""PaiNN: an equivariant message-passing potential (Schütt, Unke, Gastegger, ICML 2021).

Each atom carries scalar features s (n_atoms, F) and vector features v (n_atoms, 3, F).
A message from j to i mixes φ(s_j) with radial filters W(r_ij):

    Δs_i = Σ_j (φ_s ∘ W_s)                 Δv_i = Σ_j (φ_vv ∘ W_vv) v_j + (φ_vs ∘ W_vs) r̂_ij

and an update mixes each atom's channels:  Δv = a_vv U v,  Δs = a_sv <U v, V v> + a_ss,
with (a_vv, a_sv, a_ss) = MLP(s, |V v|). Vectors only ever rotate with the structure, so the
energy read out from s is invariant and the forces are equivariant. Radial basis:
sin(nπ r / r_c) / r times a cosine cutoff.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import torch
from torch import nn

from esml.graph import AtomicGraph
from esml.potentials.ani import cosine_cutoff
from esml.potentials.message_passing import MessagePassing


def sinc_basis(distances: torch.Tensor, n_basis: int, cutoff: float) -> torch.Tensor:
    n = torch.arange(1, n_basis + 1, dtype=distances.dtype)
    return torch.sin(distances.unsqueeze(1) * n * (math.pi / cutoff)) / distances.unsqueeze(1)


class Message(nn.Module):
    def __init__(self, features: int, n_basis: int):
        super().__init__()
        self.features = features
        self.scalar = nn.Sequential(nn.Linear(features, features), nn.SiLU(), nn.Linear(features, 3 * features))
        self.filter = nn.Linear(n_basis, 3 * features)

    def forward(self, s, v, edges, basis, envelope, directions):
        i, j = edges
        x = self.scalar(s)[j] * (self.filter(basis) * envelope.unsqueeze(1))
        ds, dvv, dvs = torch.split(x, self.features, dim=1)
        dv = dvv.unsqueeze(1) * v[j] + dvs.unsqueeze(1) * directions.unsqueeze(2)
        return s.index_add(0, i, ds), v.index_add(0, i, dv)


class Update(nn.Module):
    def __init__(self, features: int):
        super().__init__()
        self.features = features
        self.mix = nn.Linear(features, 2 * features, bias=False)
        self.gate = nn.Sequential(nn.Linear(2 * features, features), nn.SiLU(), nn.Linear(features, 3 * features))

    def forward(self, s, v):
        uv, vv = torch.split(self.mix(v), self.features, dim=2)
        norm = torch.sqrt((vv * vv).sum(1) + 1e-8)  # the epsilon keeps the gradient finite at v = 0
        a_vv, a_sv, a_ss = torch.split(self.gate(torch.cat([s, norm], dim=1)), self.features, dim=1)
        return s + a_sv * (uv * vv).sum(1) + a_ss, v + a_vv.unsqueeze(1) * uv


class PaiNNPotential(MessagePassing):
    """PaiNN with ``features`` channels, ``layers`` message/update blocks, cutoff in Å."""

    kind = "painn"

    def __init__(self, species: Sequence[int], *, features: int = 128, layers: int = 3, n_basis: int = 20,
                 cutoff: float = 5.0, self_energies: Sequence[float] | None = None, energy_scale: float = 1.0):
        super().__init__(species, features, layers, n_basis, cutoff, self_energies, energy_scale)
        self.messages = nn.ModuleList(Message(features, n_basis) for _ in range(layers))
        self.updates = nn.ModuleList(Update(features) for _ in range(layers))
        self.readout = self.zero_last_layer(
            nn.Sequential(nn.Linear(features, features // 2), nn.SiLU(), nn.Linear(features // 2, 1)))

    def atomic_energies(self, graph: AtomicGraph, species: torch.Tensor, vectors: torch.Tensor) -> torch.Tensor:
        edges, vectors = self.edges_inside_cutoff(graph, vectors)
        distances = vectors.norm(dim=1)
        basis = sinc_basis(distances, self.n_basis, self.cutoff)
        envelope = cosine_cutoff(distances, self.cutoff)
        directions = vectors / distances.unsqueeze(1)
        s = self.embedding(species)
        v = s.new_zeros(s.shape[0], 3, self.features)
        for message, update in zip(self.messages, self.updates):
            s, v = message(s, v, edges, basis, envelope, directions)
            s, v = update(s, v)
        return self.readout(s).squeeze(1).unsqueeze(0)
