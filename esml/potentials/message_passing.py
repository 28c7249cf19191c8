"""What the message-passing families (PaiNN, CGCNN) share on top of the `Potential` protocol."""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import nn

from esml.graph import AtomicGraph
from esml.potential import Potential


class MessagePassing(Potential):
    """What the message-passing families share: an element embedding of ``features`` channels,
    ``layers`` blocks, a radial basis of ``n_basis`` functions inside ``cutoff`` Å, and a readout
    whose last layer starts at zero, so training starts from the reference energies, not from noise."""

    def __init__(self, species: Sequence[int], features: int, layers: int, n_basis: int, cutoff: float,
                 self_energies: Sequence[float] | None, energy_scale: float):
        super().__init__(species, self_energies, energy_scale)
        self.features, self.layers, self.n_basis, self.cutoff = features, layers, n_basis, cutoff
        self.embedding = nn.Embedding(len(self.species), features)

    def config(self) -> dict:
        return {**super().config(), "features": self.features, "layers": self.layers,
                "n_basis": self.n_basis, "cutoff": self.cutoff}

    @staticmethod
    def zero_last_layer(readout: nn.Sequential) -> nn.Sequential:
        nn.init.zeros_(readout[-1].weight)
        nn.init.zeros_(readout[-1].bias)
        return readout

    def edges_inside_cutoff(self, graph: AtomicGraph, vectors: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """The graph's edges (2, n) and their vectors (n, 3) shorter than the cutoff."""
        keep = torch.nonzero(vectors.norm(dim=1) < self.cutoff).squeeze(1)
        return graph.edges[:, keep], vectors[keep]
