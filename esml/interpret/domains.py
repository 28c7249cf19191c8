"""Class domains for SISSO classification: the convex hull of each class in descriptor space.

A descriptor is good when the domains do not overlap. Its score is first the number of samples
lying inside the domain of another class, then the size of the overlap (length in 1D, area in 2D,
in units of the standardised descriptor) or, when the domains are apart, minus the gap between
them, so that among separating descriptors the widest margin wins (Ouyang et al. 2018). Domains
are intervals in 1D and convex polygons in 2D; higher dimensions are refused.
"""

from __future__ import annotations

import itertools

import numpy as np

from esml.interpret.feature_space import FeatureSpaceError
from esml.interpret.screening import distinct_best

Score = tuple[int, float]


def overlap_count(points: np.ndarray, labels: np.ndarray) -> int:
    return int(overlapping(points, labels).sum())


def overlapping(points: np.ndarray, labels: np.ndarray) -> np.ndarray:
    """(n,) True for samples inside the domain of a class other than their own."""
    points = _standardised(points)
    inside = np.zeros(len(points), dtype=bool)
    for label in np.unique(labels):
        others = labels != label
        inside[others] |= _inside(_hull(points[labels == label]), points[others])
    return inside


def score(points: np.ndarray, labels: np.ndarray) -> Score:
    points = _standardised(points)
    count, size = 0, 0.0
    for a, b in itertools.combinations(np.unique(labels), 2):
        hull_a, hull_b = _hull(points[labels == a]), _hull(points[labels == b])
        count += int(_inside(hull_a, points[labels == b]).sum() + _inside(hull_b, points[labels == a]).sum())
        size += _overlap_size(hull_a, hull_b)
    return count, size


def screen(values: np.ndarray, labels: np.ndarray, complexity: np.ndarray, n_sis: int, exclude: list[int],
           focus: np.ndarray | None = None) -> list[int]:
    """The ``n_sis`` features whose 1D class domains overlap least (on the ``focus`` samples when given:
    those the previous dimension's descriptor left in overlap regions)."""
    if focus is not None and len(np.unique(labels[focus])) > 1:
        values, labels = values[:, focus], labels[focus]
    counts, sizes = _interval_scores(values, labels)
    order = np.lexsort((complexity, np.round(sizes, 10), counts))
    ranks = np.empty(len(order))
    ranks[order] = -np.arange(len(order), dtype=float)
    ranks[exclude] = -np.inf
    return distinct_best(values, ranks, complexity, n_sis, exclude)


def _interval_scores(values: np.ndarray, labels: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Per feature: samples inside another class's interval, and the overlap length (negative: gap)."""
    scale = values.std(axis=1)
    scale[scale == 0] = np.inf
    counts = np.zeros(len(values), dtype=int)
    sizes = np.zeros(len(values))
    for a, b in itertools.combinations(np.unique(labels), 2):
        in_a, in_b = values[:, labels == a], values[:, labels == b]
        low = np.maximum(in_a.min(axis=1), in_b.min(axis=1))
        high = np.minimum(in_a.max(axis=1), in_b.max(axis=1))
        both = np.concatenate([in_a, in_b], axis=1)
        counts += ((both >= low[:, None]) & (both <= high[:, None])).sum(axis=1)
        sizes += (high - low) / scale
    return counts, sizes


def best_subset(pool_values: np.ndarray, labels: np.ndarray, size: int) -> tuple[int, ...]:
    """The ``size`` rows of ``pool_values`` whose class domains overlap least."""
    if size > 2:
        raise FeatureSpaceError("classification descriptors have at most 2 dimensions; use --dimension 1 or 2")
    if size == 1:
        counts, sizes = _interval_scores(pool_values, labels)
        return (int(np.lexsort((sizes, counts))[0]),)
    pairs = itertools.combinations(range(len(pool_values)), 2)
    return min(pairs, key=lambda pair: score(pool_values[list(pair)].T, labels))


def nearest_domain(points: np.ndarray, labels: np.ndarray, new_points: np.ndarray) -> np.ndarray:
    """The class whose domain lies nearest to each new point (inside counts as distance 0; a point
    inside several domains goes to the class with the nearest centre)."""
    mean, std = points.mean(axis=0), points.std(axis=0)
    std[std == 0] = 1.0
    points, new_points = (points - mean) / std, (new_points - mean) / std
    classes = np.unique(labels)
    distances = np.stack([_distance(_hull(points[labels == c]), new_points) for c in classes], axis=1)
    centres = np.stack([np.linalg.norm(new_points - points[labels == c].mean(axis=0), axis=1) for c in classes], axis=1)
    # The centre term, bounded by 1e-9, only breaks ties between domains at distance 0.
    return classes[np.argmin(distances + 1e-9 * centres / (1 + centres), axis=1)]


def _standardised(points: np.ndarray) -> np.ndarray:
    points = np.asarray(points, dtype=float).reshape(len(points), -1)
    if points.shape[1] > 2:
        raise FeatureSpaceError("classification descriptors have at most 2 dimensions; use --dimension 1 or 2")
    std = points.std(axis=0)
    std[std == 0] = 1.0
    return (points - points.mean(axis=0)) / std


def _as_plane(points: np.ndarray) -> np.ndarray:
    """1D points as 2D ones on the x axis, so one polygon code serves both."""
    return points if points.shape[1] == 2 else np.column_stack([points[:, 0], np.zeros(len(points))])


def _hull(points: np.ndarray) -> np.ndarray:
    """Convex hull vertices in counter-clockwise order (Andrew's monotone chain); degenerate hulls
    (a point, a segment) come back with one or two vertices."""
    unique = np.unique(_as_plane(points), axis=0)
    if len(unique) <= 2:
        return unique

    def half(ordered):
        chain = []
        for p in ordered:
            while len(chain) >= 2 and _cross(chain[-2], chain[-1], p) <= 0:
                chain.pop()
            chain.append(p)
        return chain[:-1]

    return np.array(half(unique) + half(unique[::-1]))


def _cross(o, a, b) -> float:
    return (a[0] - o[0]) * (b[1] - o[1]) - (a[1] - o[1]) * (b[0] - o[0])


def _inside(hull: np.ndarray, points: np.ndarray, tolerance: float = 1e-9) -> np.ndarray:
    """Points inside or on the hull."""
    return _distance(hull, _as_plane(points)) <= tolerance


def _distance(hull: np.ndarray, points: np.ndarray) -> np.ndarray:
    """Euclidean distance of each point to the hull (0 inside)."""
    points = _as_plane(points)
    edges = [(hull[k], hull[(k + 1) % len(hull)]) for k in range(len(hull))] if len(hull) > 1 else [(hull[0], hull[0])]
    to_edges = np.stack([_segment_distance(a, b, points) for a, b in edges], axis=1)
    nearest = to_edges.min(axis=1)
    if len(hull) < 3:
        return nearest
    crosses = np.stack([(b[0] - a[0]) * (points[:, 1] - a[1]) - (b[1] - a[1]) * (points[:, 0] - a[0])
                        for a, b in edges], axis=1)
    return np.where((crosses >= 0).all(axis=1), 0.0, nearest)


def _segment_distance(a: np.ndarray, b: np.ndarray, points: np.ndarray) -> np.ndarray:
    direction = b - a
    length = direction @ direction
    t = np.clip((points - a) @ direction / length, 0, 1) if length > 0 else np.zeros(len(points))
    return np.linalg.norm(points - (a + t[:, None] * direction), axis=1)


def _overlap_size(hull_a: np.ndarray, hull_b: np.ndarray) -> float:
    """Area (2D) or length (1D, on the x axis) shared by two hulls; minus their gap when apart."""
    gap = min(_distance(hull_b, hull_a).min(), _distance(hull_a, hull_b).min())
    if gap > 0:
        return -float(gap)
    if len(hull_a) < 3 or len(hull_b) < 3:
        low = max(hull_a[:, 0].min(), hull_b[:, 0].min())
        return float(min(hull_a[:, 0].max(), hull_b[:, 0].max()) - low)
    return _area(_clip(hull_a, hull_b))


def _clip(subject: np.ndarray, clipper: np.ndarray) -> np.ndarray:
    """Sutherland–Hodgman: the part of convex polygon ``subject`` inside convex polygon ``clipper``."""
    output = list(subject)
    for k in range(len(clipper)):
        a, b = clipper[k], clipper[(k + 1) % len(clipper)]
        polygon, output = output, []
        for i, p in enumerate(polygon):
            q = polygon[i - 1]
            p_in, q_in = _cross(a, b, p) >= 0, _cross(a, b, q) >= 0
            if p_in != q_in:
                output.append(_intersection(q, p, a, b))
            if p_in:
                output.append(p)
        if not output:
            return np.zeros((0, 2))
    return np.array(output)


def _intersection(p, q, a, b) -> np.ndarray:
    d1, d2 = _cross(a, b, p), _cross(a, b, q)
    return p + (q - p) * d1 / (d1 - d2)


def _area(polygon: np.ndarray) -> float:
    if len(polygon) < 3:
        return 0.0
    x, y = polygon[:, 0], polygon[:, 1]
    return 0.5 * abs(float(x @ np.roll(y, -1) - y @ np.roll(x, -1)))
