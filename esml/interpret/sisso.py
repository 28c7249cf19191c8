"""SISSO: sure-independence screening plus an exhaustive ℓ0 search over the screened features.

Dimension by dimension (Ouyang et al., Phys. Rev. Mater. 2, 083802, 2018): screen the ``n_sis``
features that correlate most with the residual of the previous dimension's model (with the target
itself for the first), add them to the pool, then search every ``d``-subset of the pool for the
linear model (with intercept) of least squared error. The same search with class-overlap in place
of squared error gives the classification variant (:mod:`esml.interpret.domains`).
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field

import numpy as np
import torch

from esml.interpret import domains
from esml.interpret.feature_space import DEFAULT_OPERATORS, FeatureSpace, FeatureSpaceError
from esml.interpret.holdout import holdouts
from esml.interpret.screening import correlations, distinct_best, unit_rows

MAX_SUBSETS = 5e7
CHUNK = 200_000


@dataclass(frozen=True)
class SissoConfig:
    """dimension: largest descriptor dimension; n_sis: features screened per dimension; rung: operator
    levels of the feature space; classify: the target holds class labels; cv_fraction/cv_repeats:
    repeated leave-``cv_fraction``-out cross-validation (0 repeats skips it); seed: of those draws."""

    dimension: int = 2
    n_sis: int = 100
    rung: int = 2
    operators: tuple[str, ...] = DEFAULT_OPERATORS
    classify: bool = False
    cv_fraction: float = 0.1
    cv_repeats: int = 10
    seed: int = 0


@dataclass
class Descriptor:
    """A d-dimensional SISSO model: y ≈ intercept + Σ coefficients[k] · feature_k (regression), or
    the d features whose class domains overlap least (classification, no coefficients)."""

    features: tuple[int, ...]
    formulas: tuple[str, ...]
    coefficients: np.ndarray = field(default_factory=lambda: np.zeros(0))
    intercept: float = 0.0
    score: float = 0.0  # training RMSE (regression) or points in overlap regions (classification)

    @property
    def formula(self) -> str:
        if not len(self.coefficients):
            return " , ".join(f"d{k + 1} = {f}" for k, f in enumerate(self.formulas))
        terms = " ".join(f"{c:+.6g} * {f}" for c, f in zip(self.coefficients, self.formulas))
        return f"{self.intercept:.6g} {terms}"


def fit_sisso(space: FeatureSpace, y: np.ndarray, config: SissoConfig, rows: np.ndarray | None = None,
              log: Callable[[str], None] = lambda _: None) -> list[Descriptor]:
    """The best descriptor of each dimension 1..config.dimension, fitted on ``rows`` (default: all)."""
    y = np.asarray(y, dtype=float)
    everything = rows is None
    rows = np.arange(len(y)) if everything else np.asarray(rows)
    _check(space, y, rows, config)
    values = space.values if everything else space.values[:, rows]  # a fold copies; the full fit need not
    target = y[rows]
    pool: list[int] = []
    descriptors: list[Descriptor] = []
    for dimension in range(1, config.dimension + 1):
        if config.classify:
            focus = domains.overlapping(values[list(descriptors[-1].features)].T, target) if descriptors else None
            new = domains.screen(values, target, space.complexity, config.n_sis, exclude=pool, focus=focus)
        else:
            residual = target if not descriptors else target - _linear_prediction(values, descriptors[-1])
            new = screen(values, residual, space.complexity, config.n_sis, exclude=pool)
        pool.extend(new)
        best = (domains.best_subset if config.classify else best_subset)(values[pool], target, dimension)
        chosen = tuple(pool[k] for k in best)
        descriptors.append(_descriptor(space, values, target, chosen, config.classify))
        log(f"{dimension}D (pool {len(pool)}): {descriptors[-1].formula}; score {descriptors[-1].score:.4g}")
    return descriptors


def _check(space: FeatureSpace, y: np.ndarray, rows: np.ndarray, config: SissoConfig) -> None:
    if y.shape != (space.values.shape[1],) or not np.isfinite(y).all():
        raise FeatureSpaceError("the target needs one finite value per sample; fill or drop the empty rows")
    if config.dimension < 1 or config.n_sis < 1:
        raise FeatureSpaceError("dimension and n_sis must be at least 1")
    if not config.classify and len(rows) <= config.dimension + 1:
        raise FeatureSpaceError(f"{len(rows)} samples cannot fit a {config.dimension}D model with an intercept")
    if config.classify and len(np.unique(y[rows])) < 2:
        raise FeatureSpaceError("classification needs at least two classes in the target column")
    pool = config.n_sis * config.dimension
    if math.comb(pool, config.dimension) > MAX_SUBSETS:
        raise FeatureSpaceError(f"a {config.dimension}D search over {pool} screened features means "
                                f"{math.comb(pool, config.dimension):.3g} subsets; lower n_sis or the dimension")


def screen(values: np.ndarray, target: np.ndarray, complexity: np.ndarray, n_sis: int,
           exclude: list[int]) -> list[int]:
    """The ``n_sis`` features most correlated with ``target``, none a duplicate of another or of ``exclude``."""
    scores = correlations(values, target)
    scores[exclude] = -1.0
    return distinct_best(values, scores, complexity, n_sis, exclude)


def subsets(n: int, size: int) -> Iterator[np.ndarray]:
    """All ``size``-subsets of range(n), as (k, size) index arrays, a few hundred thousand at a time."""
    if size == 1:
        yield np.arange(n)[:, None]
        return
    upper = np.stack(np.triu_indices(n, 1), axis=1)
    for head in itertools.combinations(range(n), size - 2):
        tail = upper[upper[:, 0] > (head[-1] if head else -1)]
        yield np.concatenate([np.broadcast_to(np.array(head, dtype=int), (len(tail), len(head))), tail], axis=1)


def best_subset(pool_values: np.ndarray, target: np.ndarray, size: int) -> tuple[int, ...]:
    """The ``size`` rows of ``pool_values`` whose least-squares fit (with intercept) to ``target`` errs least.

    On standardised features the normal equations of every subset are a slice of one Gram matrix:
    pairs have a closed form over the whole matrix, larger subsets are solved as a batch of small
    Cholesky factorisations.
    """
    unit = torch.from_numpy(unit_rows(pool_values))
    centred = torch.from_numpy(target - target.mean())
    gram, projection = unit @ unit.T, unit @ centred
    if size == 1:
        return (int(torch.argmax(projection.abs())),)
    if size == 2:
        return _best_pair(gram, projection)
    best, best_explained = None, -math.inf
    for chunk in _chunks(subsets(len(pool_values), size)):
        index = torch.from_numpy(chunk)
        factor, info = torch.linalg.cholesky_ex(gram[index[:, :, None], index[:, None, :]])
        rhs = projection[index][..., None]
        explained = (rhs * torch.cholesky_solve(rhs, factor)).sum(dim=(1, 2))
        explained[info != 0] = -math.inf
        top = int(torch.argmax(explained))
        if explained[top] > best_explained:
            best, best_explained = tuple(int(k) for k in chunk[top]), float(explained[top])
    return best


def _best_pair(gram: torch.Tensor, projection: torch.Tensor) -> tuple[int, int]:
    """Explained variance of features i and j together: (p_i² + p_j² - 2 g_ij p_i p_j) / (1 - g_ij²)."""
    best, best_explained = (0, 1), -math.inf
    rows = max(1, CHUNK // len(projection))
    for start in range(0, len(projection), rows):
        g = gram[start:start + rows]
        p_i = projection[start:start + rows, None]
        explained = (p_i ** 2 + projection ** 2 - 2 * g * p_i * projection) / (1 - g ** 2)
        explained[(1 - g ** 2) < 1e-12] = -math.inf  # the diagonal and duplicates
        top = int(torch.argmax(explained))
        row, column = divmod(top, len(projection))
        if explained[row, column] > best_explained:
            best, best_explained = tuple(sorted((start + row, column))), float(explained[row, column])
    return best


def _chunks(blocks: Iterator[np.ndarray]) -> Iterator[np.ndarray]:
    """Regroup subset blocks into chunks of about CHUNK rows."""
    pending, count = [], 0
    for block in blocks:
        pending.append(block)
        count += len(block)
        if count >= CHUNK:
            yield np.concatenate(pending)
            pending, count = [], 0
    if pending:
        yield np.concatenate(pending)


def _descriptor(space: FeatureSpace, values: np.ndarray, target: np.ndarray, chosen: tuple[int, ...],
                classify: bool) -> Descriptor:
    formulas = tuple(space.expression(k) for k in chosen)
    if classify:
        return Descriptor(chosen, formulas, score=float(domains.overlap_count(values[list(chosen)].T, target)))
    design = np.column_stack([np.ones(len(target)), values[list(chosen)].T])
    solution = np.linalg.lstsq(design, target, rcond=None)[0]
    rmse = float(np.sqrt(np.mean((design @ solution - target) ** 2)))
    return Descriptor(chosen, formulas, solution[1:], float(solution[0]), rmse)


def _linear_prediction(values: np.ndarray, descriptor: Descriptor) -> np.ndarray:
    return descriptor.intercept + descriptor.coefficients @ values[list(descriptor.features)]


def descriptor_values(space: FeatureSpace, descriptor: Descriptor, primary: np.ndarray) -> np.ndarray:
    """(n_samples, d) descriptor features on new samples (primary columns in the training order)."""
    return np.column_stack([space.evaluate(k, primary) for k in descriptor.features])


def predict(space: FeatureSpace, descriptor: Descriptor, primary: np.ndarray) -> np.ndarray:
    """Regression: the descriptor's linear model on new samples."""
    return descriptor.intercept + descriptor_values(space, descriptor, primary) @ descriptor.coefficients


def cross_validate(space: FeatureSpace, y: np.ndarray, primary: np.ndarray, config: SissoConfig,
                   log: Callable[[str], None] = lambda _: None) -> list[float]:
    """Repeated leave-``cv_fraction``-out: the whole screening and search rerun on each training part.

    Returns per dimension the RMSE over all held-out predictions (regression) or the fraction of
    held-out samples assigned to the wrong class by nearest class domain (classification).
    """
    errors: list[list[float]] = [[] for _ in range(config.dimension)]
    draws = holdouts(len(y), config.cv_fraction, config.cv_repeats, config.seed)
    for repeat, (kept, held) in enumerate(draws):
        for k, descriptor in enumerate(fit_sisso(space, y, config, rows=kept)):
            errors[k].extend(_held_out_errors(space, descriptor, primary, y, kept, held, config.classify))
        log(f"cross-validation {repeat + 1}/{config.cv_repeats}")
    if config.classify:
        return [float(np.mean(e)) for e in errors]
    return [float(np.sqrt(np.mean(np.square(e)))) for e in errors]


def _held_out_errors(space, descriptor, primary, y, kept, held, classify) -> list[float]:
    if not classify:
        return list(predict(space, descriptor, primary[held]) - y[held])
    train_points = descriptor_values(space, descriptor, primary[kept])
    predicted = domains.nearest_domain(train_points, y[kept], descriptor_values(space, descriptor, primary[held]))
    return list((predicted != y[held]).astype(float))
