"""Sure-independence screening: rank features by a score and keep the best distinct ones."""

from __future__ import annotations

import numpy as np

CHUNK = 200_000
DUPLICATE = 1 - 1e-9  # |correlation| above which two features are the same up to sign and scale


def correlations(values: np.ndarray, target: np.ndarray) -> np.ndarray:
    """|Pearson correlation| of every feature (row of ``values``) with ``target``."""
    centred = target - target.mean()
    centred = centred / max(np.linalg.norm(centred), 1e-300)
    out = np.empty(len(values))
    for start in range(0, len(values), CHUNK):
        block = values[start:start + CHUNK]
        block = block - block.mean(axis=1, keepdims=True)
        norms = np.linalg.norm(block, axis=1)
        out[start:start + CHUNK] = np.abs(block @ centred) / np.where(norms > 0, norms, np.inf)
    return out


def distinct_best(values: np.ndarray, scores: np.ndarray, complexity: np.ndarray, n_sis: int,
                  exclude: list[int]) -> list[int]:
    """Walk features by descending score, the simplest first among equal scores, skipping any
    identical (up to sign and scale) to one kept or to one in ``exclude``."""
    order = np.lexsort((complexity, -np.round(scores, 10)))
    kept: list[int] = []
    kept_unit = unit_rows(values[exclude])
    for start in range(0, len(order), 4 * n_sis):
        candidates = order[start:start + 4 * n_sis]
        unit = unit_rows(values[candidates])
        fresh = ~(np.abs(unit @ kept_unit.T) > DUPLICATE).any(axis=1)
        candidates, unit = candidates[fresh], unit[fresh]
        same = np.abs(unit @ unit.T) > DUPLICATE
        taken = np.zeros(len(candidates), dtype=bool)
        for row in range(len(candidates)):
            taken[row] = not (same[row, :row] & taken[:row]).any()
            if taken.sum() == n_sis - len(kept):
                break
        kept.extend(int(k) for k in candidates[taken])
        kept_unit = np.concatenate([kept_unit, unit[taken]])
        if len(kept) == n_sis:
            break
    return kept


def unit_rows(values: np.ndarray) -> np.ndarray:
    """Rows centred and scaled to unit length; a constant row (no information) becomes NaN, as before, quietly."""
    centred = values - values.mean(axis=1, keepdims=True)
    with np.errstate(invalid="ignore", divide="ignore"):
        return centred / np.linalg.norm(centred, axis=1, keepdims=True)
