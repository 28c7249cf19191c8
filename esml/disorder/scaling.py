"""Finite-size scaling: a quantity Q(W, L) that near the transition depends on W and L only through
x = w L^(1/ν), w = (W − W_c)/W_c, so that curves of different L cross at W_c and collapse onto one
curve Q = F(x), a polynomial here (Slevin & Ohtsuki's form without irrelevant corrections)."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import scipy.optimize

from esml.errors import EsmlError

EXPONENT_GUESS = 1.5


@dataclass(frozen=True)
class Estimate:
    """Q at one (L, W): the realisations' weighted mean and its standard error."""

    size: int
    disorder: float
    value: float
    error: float


@dataclass(frozen=True)
class ScalingFit:
    critical_disorder: float
    exponent: float
    coefficients: tuple[float, ...]  # of F(x) = Σ a_k x^k, lowest order first
    chi2: float
    dof: int

    def predict(self, size: float, disorder: np.ndarray) -> np.ndarray:
        return scaling_function(self.coefficients, scaling_variable(size, disorder, self.critical_disorder, self.exponent))


def scaling_variable(size, disorder, critical: float, exponent: float):
    """x = (W − W_c)/W_c · L^(1/ν)."""
    return (np.asarray(disorder) - critical) / critical * np.asarray(size, dtype=float) ** (1 / exponent)


def weighted_estimate(size: int, disorder: float, values: np.ndarray, weights: np.ndarray) -> Estimate:
    """The weighted mean of per-realisation values and its standard error over realisations (a ratio
    estimator: each realisation is one independent draw)."""
    keep = weights > 0
    values, weights = np.asarray(values)[keep], np.asarray(weights, dtype=float)[keep]
    if len(values) < 2:
        raise EsmlError(f"L = {size}, W = {disorder}: fewer than 2 realisations with levels; ask for more ratios")
    mean = float(np.sum(weights * values) / np.sum(weights))
    spread = np.sqrt(np.sum((weights * (values - mean)) ** 2) * len(values) / (len(values) - 1)) / np.sum(weights)
    return Estimate(size, disorder, mean, float(spread))


def scaling_function(coefficients, x: np.ndarray) -> np.ndarray:
    return np.polynomial.polynomial.polyval(x, coefficients)


def crossing_guess(estimates: list[Estimate]) -> float:
    """Where the curves of the smallest and largest L cross (linear interpolation), else mid-window."""
    sizes = sorted({e.size for e in estimates})
    small = {e.disorder: e.value for e in estimates if e.size == sizes[0]}
    large = {e.disorder: e.value for e in estimates if e.size == sizes[-1]}
    common = sorted(set(small) & set(large))
    gap = np.array([large[w] - small[w] for w in common])
    for k in range(len(common) - 1):
        if gap[k] * gap[k + 1] <= 0 and gap[k] != gap[k + 1]:
            return common[k] + (common[k + 1] - common[k]) * gap[k] / (gap[k] - gap[k + 1])
    return float(np.mean([e.disorder for e in estimates]))


def fit_scaling(estimates: list[Estimate], order: int = 3, guess: float | None = None) -> ScalingFit:
    """W_c, ν and F by weighted least squares over every (L, W) estimate."""
    size = np.array([e.size for e in estimates], dtype=float)
    disorder = np.array([e.disorder for e in estimates])
    value = np.array([e.value for e in estimates])
    error = np.maximum(np.array([e.error for e in estimates]), 1e-12)
    if len(estimates) <= order + 3:
        raise EsmlError(f"{len(estimates)} (L, W) points cannot fix a scaling polynomial of order {order}; "
                        "give more sizes or disorders")
    # W_c is sought inside the sampled window: a crossing outside it is not measured, only extrapolated
    critical = float(np.clip(crossing_guess(estimates) if guess is None else guess, disorder.min(), disorder.max()))

    start = np.polynomial.polynomial.polyfit(scaling_variable(size, disorder, critical, EXPONENT_GUESS), value, order,
                                             w=1 / error)

    def residuals(params):
        return (scaling_function(params[2:], scaling_variable(size, disorder, params[0], params[1])) - value) / error

    solution = scipy.optimize.least_squares(residuals, np.concatenate([[critical, EXPONENT_GUESS], start]),
                                            bounds=([disorder.min(), 0.3] + [-np.inf] * (order + 1),
                                                    [disorder.max(), 5.0] + [np.inf] * (order + 1)))
    chi2 = float(np.sum(solution.fun**2))
    return ScalingFit(float(solution.x[0]), float(solution.x[1]), tuple(float(c) for c in solution.x[2:]), chi2,
                      len(estimates) - len(solution.x))
