"""Numerics shared by several floors: farthest-point sampling.

The active learner picks diverse frames to label with it (a batch never spends two oracle calls
on near-duplicates), and the sparse GP picks its inducing environments with it.
"""

from __future__ import annotations

import numpy as np

from esml.errors import EsmlError


def farthest_point_sampling(features: np.ndarray, count: int, covered: np.ndarray | None = None) -> list[int]:
    """Indices of ``count`` rows of ``features`` (n, d), each the farthest from all rows chosen so
    far and from ``covered`` (m, d); without ``covered`` the first pick is the row farthest from the mean."""
    features = np.asarray(features, dtype=float)
    if features.ndim != 2:
        raise EsmlError("features must be a (frames, dimensions) array")
    count = min(count, len(features))
    if count <= 0:
        return []
    chosen: list[int] = []
    if covered is not None and len(covered):
        distance = np.min(_distances(features, np.asarray(covered, dtype=float)), axis=1)
    else:  # the mean only picks the first row; it covers nothing
        chosen.append(int(np.argmax(np.linalg.norm(features - features.mean(axis=0), axis=1))))
        distance = np.linalg.norm(features - features[chosen[0]], axis=1)
        distance[chosen] = -np.inf
    while len(chosen) < count:
        pick = int(np.argmax(distance))
        chosen.append(pick)
        distance = np.minimum(distance, np.linalg.norm(features - features[pick], axis=1))
        distance[chosen] = -np.inf  # a chosen row is never chosen again, even among duplicates
    return chosen


def _distances(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    squared = (a * a).sum(1)[:, None] + (b * b).sum(1)[None, :] - 2.0 * a @ b.T
    return np.sqrt(np.maximum(squared, 0.0))
