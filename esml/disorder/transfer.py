"""Transfer matrices of the 3D Anderson model: the Lyapunov exponents of a bar L×L in cross
section, grown slice by slice along its length.

Slice n holds amplitudes ψ_n on its L² sites; the Schrödinger equation at energy E gives
ψ_n+1 = (ε_n − E − T) ψ_n − ψ_n−1, with T the hopping within a slice (periodic) and ε_n the slice's
on-site energies. Propagating L² independent solutions and re-orthonormalising them every few
slices (QR) yields the bar's Lyapunov exponents γ_1 ≥ … ≥ γ_L² > 0; the smallest, scaled by the
width, z = γ_min L, is the inverse of MacKinnon and Kramer's normalised localisation length Λ:
it falls with L where states are extended and grows where they are localised.

A realisation here is one bar cut into segments of ``aspect`` × L slices: each segment's k
smallest exponents (× L) are one sample, so the samples of every width are bars of one shape,
whose statistics depend on W and L only through the scaling variable near the transition.
"""

from __future__ import annotations

import numpy as np
import scipy.sparse

from esml.disorder.anderson import realisation_seed
from esml.errors import EsmlError

REORTHONORMALISE = 8  # slices between QR steps: growth over them stays far inside double precision


def slice_hopping(size: int) -> scipy.sparse.csr_matrix:
    """The nearest-neighbour adjacency of an L×L periodic slice (hopping t = 1 enters as −T)."""
    site = np.arange(size * size).reshape(size, size)
    rows = np.concatenate([site.ravel()] * 2)
    cols = np.concatenate([np.roll(site, -1, axis=axis).ravel() for axis in range(2)])
    adjacency = scipy.sparse.coo_matrix((np.ones(rows.size), (rows, cols)), shape=(size * size,) * 2)
    return (adjacency + adjacency.T).tocsr()


def segment_exponents(size: int, disorder: float, segments: int, aspect: int, keep: int,
                      rng: np.random.Generator, energy: float = 0.0) -> np.ndarray:
    """(segments, keep): the ``keep`` smallest Lyapunov exponents × L of each segment of a bar of
    width L, after one segment of warm-up (the start vectors' transient) that is not returned."""
    if size < 3:
        raise EsmlError(f"bar width {size}: give L of at least 3 (periodic neighbours must be distinct sites)")
    if keep > size * size:
        raise EsmlError(f"{keep} exponents asked of a bar of width {size}, which has {size * size}")
    width = size * size
    hopping = slice_hopping(size)
    current, previous = np.eye(width), np.zeros((width, width))
    length = aspect * size
    logs = np.zeros(width)
    samples = []
    for segment in range(segments + 1):
        logs[:] = 0.0
        for step in range(1, length + 1):
            onsite = rng.uniform(-disorder / 2, disorder / 2, width) - energy
            current, previous = onsite[:, None] * current - hopping @ current - previous, current
            if step % REORTHONORMALISE == 0 or step == length:
                q, r = np.linalg.qr(np.vstack([current, previous]))
                current, previous = q[:width], q[width:]
                logs += np.log(np.abs(np.diag(r)))
        if segment:  # the first segment is warm-up
            samples.append(np.sort(logs / length)[:keep] * size)
    return np.array(samples)


def bar_realisation(size: int, disorder: float, index: int, seed: int, segments: int, aspect: int, keep: int,
                    energy: float = 0.0) -> np.ndarray:
    """Realisation ``index`` of a bar of width L: its segments' smallest exponents × L, (segments, keep)."""
    return segment_exponents(size, disorder, segments, aspect, keep, realisation_seed(seed, size, disorder, index), energy)
