"""Atoms as a graph of neighbour pairs, the input of every potential.

Neighbour lists come from vesin (molecules and any mix of periodic directions); esml keeps
only the integer cell shifts, so edge vectors are recomputed from positions and cell and
stay differentiable with respect to both (forces and stress by autograd).

Conventions (NequIP's): cell vectors are rows; an edge ``(i, j)`` with shift ``S`` points
from atom ``i`` to the image of ``j``: ``r_ij = r_j - r_i + S @ cell``.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import NamedTuple

import numpy as np
import torch
from ase import Atoms

from esml.errors import OverlapError, StructureError
from esml.structures import describe

#: Closer than this (Å) two atoms are taken to overlap; no potential is trained there.
MIN_DISTANCE = 0.3


class AtomicGraph(NamedTuple):
    """One or more structures, atoms concatenated.

    numbers    (n_atoms,) int64          atomic numbers
    positions  (n_atoms, 3) Å
    cell       (n_structures, 3, 3) Å    rows are cell vectors; zeros for molecules
    structure  (n_atoms,) int64          which structure each atom belongs to
    edges      (2, n_edges) int64        centre i, neighbour j (both directions listed)
    shifts     (n_edges, 3)              integer cell shifts of j, as floats
    n_structures  int
    """

    numbers: torch.Tensor
    positions: torch.Tensor
    cell: torch.Tensor
    structure: torch.Tensor
    edges: torch.Tensor
    shifts: torch.Tensor
    n_structures: int

    def edge_vectors(self, positions: torch.Tensor | None = None, cell: torch.Tensor | None = None) -> torch.Tensor:
        """``r_j - r_i + S @ cell`` (n_edges, 3) Å; pass strained positions and cell for stress."""
        positions = self.positions if positions is None else positions
        cell = self.cell if cell is None else cell
        i, j = self.edges
        cell_of_edge = cell[self.structure[i]]
        return positions[j] - positions[i] + torch.einsum("ek,ekl->el", self.shifts, cell_of_edge)

    @property
    def n_atoms_per_structure(self) -> torch.Tensor:
        return torch.bincount(self.structure, minlength=self.n_structures)


def neighbour_pairs(atoms: Atoms, cutoff: float) -> tuple[np.ndarray, np.ndarray]:
    """Edges (2, n_edges) and integer shifts (n_edges, 3) of every pair closer than ``cutoff`` Å."""
    from vesin import NeighborList

    periodic = np.asarray(atoms.pbc, dtype=bool)
    box = np.asarray(atoms.cell.array, dtype=np.float64) if periodic.any() else np.zeros((3, 3))
    i, j, shifts = NeighborList(cutoff=cutoff, full_list=True).compute(
        atoms.positions.astype(np.float64), box, periodic.tolist(), quantities="ijS"
    )
    return np.stack([i, j]).astype(np.int64), shifts.astype(np.float64)


def atoms_to_graph(atoms: Atoms, cutoff: float, dtype: torch.dtype = torch.float32, name: str | None = None) -> AtomicGraph:
    """The graph of one structure; overlapping atoms or non-finite positions are refused."""
    name = name or describe(atoms, 0)
    if not np.isfinite(atoms.positions).all():
        raise StructureError(f"{name}: positions contain NaN or infinity; fix the structure")
    edges, shifts = neighbour_pairs(atoms, cutoff)
    graph = AtomicGraph(
        numbers=torch.as_tensor(atoms.numbers, dtype=torch.int64),
        positions=torch.as_tensor(atoms.positions, dtype=dtype),
        cell=torch.as_tensor(atoms.cell.array, dtype=dtype).reshape(1, 3, 3),
        structure=torch.zeros(len(atoms), dtype=torch.int64),
        edges=torch.as_tensor(edges),
        shifts=torch.as_tensor(shifts, dtype=dtype),
        n_structures=1,
    )
    check_no_overlap(graph, name)
    return graph


def check_no_overlap(graph: AtomicGraph, name: str) -> None:
    if graph.edges.shape[1] == 0:
        return
    distances = graph.edge_vectors().norm(dim=1)
    closest = int(distances.argmin())
    if distances[closest] < MIN_DISTANCE:
        i, j = graph.edges[:, closest].tolist()
        raise OverlapError(
            f"{name}: atoms {i} and {j} overlap ({float(distances[closest]):.3f} Å apart, "
            f"under {MIN_DISTANCE} Å); fix the structure", (i, j), float(distances[closest]))


def batch_graphs(graphs: Sequence[AtomicGraph]) -> AtomicGraph:
    """Join graphs into one; atom and structure indices are offset."""
    atom_offsets = np.cumsum([0] + [len(g.numbers) for g in graphs[:-1]])
    structure_offsets = np.cumsum([0] + [g.n_structures for g in graphs[:-1]])
    return AtomicGraph(
        numbers=torch.cat([g.numbers for g in graphs]),
        positions=torch.cat([g.positions for g in graphs]),
        cell=torch.cat([g.cell for g in graphs]),
        structure=torch.cat([g.structure + int(s) for g, s in zip(graphs, structure_offsets)]),
        edges=torch.cat([g.edges + int(a) for g, a in zip(graphs, atom_offsets)], dim=1),
        shifts=torch.cat([g.shifts for g in graphs]),
        n_structures=int(sum(g.n_structures for g in graphs)),
    )
