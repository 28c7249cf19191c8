"""A fixed descriptor of whole frames, for measuring how different two frames are.

Each frame becomes the mean ANI-2x atomic environment vector of each element, concatenated:
invariant to rotation, translation and permutation, and the same whichever model is learning.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import torch
from ase import Atoms

from esml.graph import atoms_to_graph
from esml.potentials.ani import AEVComputer, AEVParameters


def structure_features(frames: Sequence[Atoms], species: Sequence[int] | None = None) -> np.ndarray:
    """(n_frames, n_species × AEV length) mean AEV per element; ``species`` defaults to the frames' elements."""
    species = sorted(species or {int(z) for atoms in frames for z in atoms.numbers})
    parameters = AEVParameters()
    computer = AEVComputer(len(species), parameters).double()
    table = {z: k for k, z in enumerate(species)}
    rows = []
    with torch.no_grad():
        for atoms in frames:
            graph = atoms_to_graph(atoms, parameters.radial_cutoff, torch.float64)
            index = torch.tensor([table[int(z)] for z in atoms.numbers])
            aev = computer(graph, index, graph.edge_vectors())
            means = [aev[index == k].mean(0) if bool((index == k).any()) else aev.new_zeros(computer.length)
                     for k in range(len(species))]
            rows.append(torch.cat(means).numpy())
    return np.array(rows)
