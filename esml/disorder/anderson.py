"""The 3D Anderson model: one orbital per site of an L×L×L cubic lattice (periodic), hopping t = 1
between nearest neighbours, on-site energies drawn uniformly from [-W/2, W/2]. Energies are in
units of t.

The levels near an energy come from dense diagonalisation for small lattices and from sparse
shift-invert Lanczos (ARPACK around the energy, with a sparse LU factorisation) for large ones,
where dense work grows as N³. The statistic of the levels used here is the ratio of consecutive
spacings, r = min(s_n, s_n+1) / max(s_n, s_n+1), which needs no unfolding of the density of states:
⟨r⟩ ≈ 0.5307 for extended states (GOE) and 0.3863 for localised ones (Poisson).
"""

from __future__ import annotations

import numpy as np
import scipy.linalg
import scipy.sparse
import scipy.sparse.linalg

from esml.errors import EsmlError

DENSE_UP_TO = 1728  # sites (L = 12): above this, shift-invert is cheaper than a dense eigensolver
DENSITY_MARGIN = 1.25  # shift-invert asks for this many times the levels it expects in the window


def hamiltonian(size: int, disorder: float, rng: np.random.Generator) -> scipy.sparse.csc_matrix:
    """The Anderson Hamiltonian of an L×L×L periodic lattice with box disorder ``disorder``."""
    if size < 3:
        raise EsmlError(f"lattice size {size}: give L of at least 3 (periodic neighbours must be distinct sites)")
    if not disorder >= 0:
        raise EsmlError(f"disorder {disorder}: give W ≥ 0")
    n = size**3
    site = np.arange(n).reshape(size, size, size)
    rows = np.concatenate([site.ravel()] * 3)
    cols = np.concatenate([np.roll(site, -1, axis=axis).ravel() for axis in range(3)])
    hopping = scipy.sparse.coo_matrix((-np.ones(rows.size), (rows, cols)), shape=(n, n))
    onsite = scipy.sparse.diags(rng.uniform(-disorder / 2, disorder / 2, n))
    return (hopping + hopping.T + onsite).tocsc()


def levels_near(matrix: scipy.sparse.spmatrix, energy: float, half_width: float) -> np.ndarray:
    """The sorted eigenvalues in [energy - half_width, energy + half_width]."""
    low, high = energy - half_width, energy + half_width
    if matrix.shape[0] <= DENSE_UP_TO:
        return scipy.linalg.eigh(matrix.toarray(), eigvals_only=True, subset_by_value=(low, high), driver="evr")
    return _shift_invert(matrix.tocsc(), energy, low, high)


def _shift_invert(matrix, energy: float, low: float, high: float) -> np.ndarray:
    """Eigenvalues around ``energy`` by shift-invert Lanczos, asking for more until the window is covered."""
    n = matrix.shape[0]
    shifted = (matrix - energy * scipy.sparse.identity(n, format="csc")).tocsc()
    solve = scipy.sparse.linalg.splu(shifted, permc_spec="MMD_ATA").solve
    operator = scipy.sparse.linalg.LinearOperator(matrix.shape, matvec=solve, dtype=float)
    k = int(DENSITY_MARGIN * n * (high - low) * _density_near_centre(matrix)) + 8
    while True:
        k = min(k, n - 2)
        values = np.sort(scipy.sparse.linalg.eigsh(matrix, k=k, sigma=energy, OPinv=operator, which="LM",
                                                   return_eigenvectors=False, tol=1e-10))
        if (values[0] < low and values[-1] > high) or k == n - 2:
            return values[(values >= low) & (values <= high)]
        # too few: ask again for the count the levels found so far predict for the whole window
        k = int(DENSITY_MARGIN * k * (high - low) / (values[-1] - values[0])) + 8


def _density_near_centre(matrix) -> float:
    """A rough density of states per site and unit energy near the band centre: 1/W for strong
    disorder, 1/7 (a little above the clean cubic lattice's) for weak."""
    disorder = 2 * np.abs(matrix.diagonal()).max()
    return 1.0 / max(disorder, 7.0)


def spacing_ratios(levels: np.ndarray) -> np.ndarray:
    """r_n = min(s_n, s_n+1) / max(s_n, s_n+1) of consecutive spacings of sorted levels."""
    spacings = np.diff(np.sort(levels))
    first, second = spacings[:-1], spacings[1:]
    return np.minimum(first, second) / np.maximum(np.maximum(first, second), np.finfo(float).tiny)


def realisation_seed(seed: int, size: int, disorder: float, index: int) -> np.random.Generator:
    """The generator of one realisation, the same whatever order or process computes it."""
    return np.random.default_rng([seed, size, int(round(disorder * 1000)), index])


def realisation_ratios(size: int, disorder: float, index: int, seed: int, energy: float = 0.0,
                       half_width: float = 1.0) -> np.ndarray:
    """The spacing ratios of realisation ``index`` of the levels within ``half_width`` of ``energy``."""
    matrix = hamiltonian(size, disorder, realisation_seed(seed, size, disorder, index))
    return spacing_ratios(levels_near(matrix, energy, half_width))
