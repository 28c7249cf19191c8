"""Kernel matrices between molecules, in float64 with torch (BLAS), chunked to bound memory.

- global representations: Laplacian exp(-|x - y|₁ / σ) (the usual choice for Coulomb matrices and
  Bag of Bonds) or Gaussian exp(-|x - y|² / 2σ²) (SLATM);
- local (FCHL19): K(A, B) = Σ_{i∈A} Σ_{j∈B, Z_i = Z_j} exp(-|x_i - x_j|² / 2σ²), the sum over
  same-element atom pairs, as in qmllib's local kernels (computed here by matrix products, so a
  4,000-molecule kernel takes a minute on two cores rather than an hour).

Several σ share one distance computation: every function returns one matrix per σ.
"""

from __future__ import annotations

import numpy as np
import torch

from esml.properties.representations import Features

CHUNK_BYTES = 256 * 2**20


def kernel(a: Features, b: Features, sigmas: list[float], metric: str) -> list[np.ndarray]:
    """K(a, b) for each σ; ``metric`` is "gaussian" or "laplacian" (global only)."""
    if a.local:
        return _local(a, b, sigmas)
    return _global(torch.from_numpy(a.vectors), torch.from_numpy(b.vectors), sigmas, metric)


def self_kernel(features: Features, sigma: float, metric: str) -> np.ndarray:
    """k(x, x) of each molecule: 1 for a global kernel, the same-element pair sum for a local one."""
    if not features.local:
        return np.ones(features.n_molecules)
    diagonal = np.zeros(features.n_molecules)
    bounds = np.searchsorted(features.molecule, np.arange(features.n_molecules + 1))
    for index in range(features.n_molecules):
        rows = slice(bounds[index], bounds[index + 1])
        one = Features(features.vectors[rows], 1, features.species[rows], np.zeros(rows.stop - rows.start, dtype=int))
        diagonal[index] = _local(one, one, [sigma])[0][0, 0]
    return diagonal


def median_distance(features: Features, metric: str, sample: int = 400, seed: int = 0) -> float:
    """The median distance between (same-element) vectors of a sample: the scale σ is set against."""
    rng = np.random.default_rng(seed)
    rows = rng.choice(len(features.vectors), size=min(sample, len(features.vectors)), replace=False)
    vectors = torch.from_numpy(features.vectors[rows])
    distances = torch.cdist(vectors, vectors, p=1.0 if metric == "laplacian" else 2.0)
    if features.local:
        species = torch.from_numpy(features.species[rows])
        distances = distances[species[:, None] == species[None, :]]
    return float(distances[distances > 0].median())


def _global(a: torch.Tensor, b: torch.Tensor, sigmas: list[float], metric: str) -> list[np.ndarray]:
    out = [np.empty((len(a), len(b))) for _ in sigmas]
    step = max(1, CHUNK_BYTES // (8 * max(1, len(b)) * (a.shape[1] if metric == "laplacian" else 1)))
    step = max(1, min(step, 4096))
    for start in range(0, len(a), step):
        block = a[start:start + step]
        if metric == "laplacian":
            distance = torch.cdist(block, b, p=1.0)
            for matrix, sigma in zip(out, sigmas):
                matrix[start:start + len(block)] = torch.exp(-distance / sigma).numpy()
        else:
            squared = _squared_distances(block, b)
            for matrix, sigma in zip(out, sigmas):
                matrix[start:start + len(block)] = torch.exp(-squared / (2 * sigma**2)).numpy()
    return out


def _local(a: Features, b: Features, sigmas: list[float]) -> list[np.ndarray]:
    out = [torch.zeros(a.n_molecules, b.n_molecules, dtype=torch.float64) for _ in sigmas]
    for element in np.intersect1d(a.species, b.species):
        rows_a, rows_b = np.flatnonzero(a.species == element), np.flatnonzero(b.species == element)
        vectors_b = torch.from_numpy(b.vectors[rows_b])
        molecule_b = torch.from_numpy(b.molecule[rows_b])
        step = max(1, CHUNK_BYTES // (8 * len(rows_b)))
        for start in range(0, len(rows_a), step):
            chunk = rows_a[start:start + step]
            squared = _squared_distances(torch.from_numpy(a.vectors[chunk]), vectors_b)
            molecule_a = torch.from_numpy(a.molecule[chunk])
            for matrix, sigma in zip(out, sigmas):
                pairs = torch.exp(-squared / (2 * sigma**2))
                by_molecule_b = torch.zeros(len(chunk), b.n_molecules, dtype=torch.float64).index_add_(1, molecule_b, pairs)
                matrix.index_add_(0, molecule_a, by_molecule_b)
    return [matrix.numpy() for matrix in out]


def _squared_distances(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    squared = (a * a).sum(1)[:, None] + (b * b).sum(1)[None, :] - 2.0 * a @ b.T
    return squared.clamp_min_(0.0)
