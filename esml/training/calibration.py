"""Calibration of predicted uncertainties against observed errors on held-out frames.

A model's σ (ensemble spread, GP posterior) is rarely the right size out of the box. Three
recalibrations, all fitted on a held-out set of (error, σ) pairs and applied to new σ:

- ``scale``: σ' = s σ with s² = mean((e/σ)²), the maximum-likelihood factor for Gaussian errors;
- ``coverage``: σ' = s σ with s the 68.27 % quantile of |e|/σ, so that ±σ' holds the Gaussian
  share of the held-out errors (split-conformal calibration of the normalised error). Force
  errors have heavier tails than a Gaussian; the maximum-likelihood factor is pulled up by the
  tail and its ±1σ band then holds too many errors (ether, ethanol and aspirin runs of
  ``esml learn``: 71–73 % on their own validation frames);
- ``isotonic``: σ' = sqrt(g(σ)) with g the monotone (non-decreasing) fit of e² against σ,
  which also repairs a σ whose ranking is right but whose shape is not.

Calibration is judged by coverage: the fraction of errors inside ±kσ (68.3 % for k = 1 and
95.4 % for k = 2 if the errors were Gaussian with that σ), shown as a reliability plot.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
from scipy.optimize import isotonic_regression
from scipy.special import erf

from esml.errors import EsmlError

METHODS = ("scale", "coverage", "isotonic")
SCALES = ("scale", "coverage")  # the methods that multiply σ by one factor
ONE_SIGMA = float(erf(1.0 / np.sqrt(2.0)))  # 0.6827: the share of Gaussian errors inside ±1σ


@dataclass(frozen=True)
class Calibration:
    """A fitted map from raw σ to calibrated σ; ``knots`` and ``values`` hold the isotonic fit."""

    method: str
    scale: float = 1.0
    knots: tuple[float, ...] = ()
    values: tuple[float, ...] = ()

    def apply(self, sigma: np.ndarray) -> np.ndarray:
        sigma = np.asarray(sigma, dtype=float)
        if self.method in SCALES:
            return self.scale * sigma
        return np.sqrt(np.interp(sigma, self.knots, self.values))


def _pairs(errors, sigmas) -> tuple[np.ndarray, np.ndarray]:
    errors, sigmas = np.ravel(np.asarray(errors, dtype=float)), np.ravel(np.asarray(sigmas, dtype=float))
    if errors.shape != sigmas.shape or errors.size == 0:
        raise EsmlError("calibration needs as many errors as uncertainties, and at least one of each")
    if not (np.isfinite(errors).all() and np.isfinite(sigmas).all()) or (sigmas < 0).any():
        raise EsmlError("calibration needs finite errors and non-negative finite uncertainties")
    return errors, sigmas


def fit_calibration(errors, sigmas, method: str = "scale") -> Calibration:
    """Fit ``method`` ('scale', 'coverage' or 'isotonic') on held-out errors and the σ predicted for them."""
    errors, sigmas = _pairs(errors, sigmas)
    if method in SCALES:
        positive = sigmas > 0
        if not positive.any():
            raise EsmlError("every uncertainty is zero; a scale factor cannot be fitted")
        z = np.abs(errors[positive] / sigmas[positive])
        factor = np.sqrt(np.mean(z**2)) if method == "scale" else _coverage_factor(errors, sigmas)
        return Calibration(method, scale=float(factor))
    if method == "isotonic":
        order = np.argsort(sigmas, kind="stable")
        fitted = isotonic_regression(errors[order] ** 2).x
        knots, first = np.unique(sigmas[order], return_index=True)
        return Calibration("isotonic", knots=tuple(knots.tolist()), values=tuple(fitted[first].tolist()))
    raise EsmlError(f"unknown calibration {method!r}; use one of {', '.join(METHODS)}")


def _coverage_factor(errors: np.ndarray, sigmas: np.ndarray) -> float:
    """The 68.27 % quantile of |e|/σ over every pair. An error with σ = 0 is outside ±kσ for any k
    (a GP gives σ = 0 to an atom beyond every cutoff, as in a dissociated frame), so it counts as
    |e|/σ = ∞ as in ``coverage``; where the quantile falls among those, the largest finite ratio."""
    with np.errstate(divide="ignore", invalid="ignore"):
        z = np.where(sigmas > 0, np.abs(errors) / sigmas, np.where(errors == 0, 0.0, np.inf))
    return float(np.quantile(np.minimum(z, z[np.isfinite(z)].max()), ONE_SIGMA))


def coverage(errors, sigmas, k: float = 1.0) -> float:
    """Fraction of errors with |e| ≤ k σ."""
    errors, sigmas = _pairs(errors, sigmas)
    return float(np.mean(np.abs(errors) <= k * sigmas))


def reliability_curve(errors, sigmas, n_points: int = 20) -> tuple[np.ndarray, np.ndarray]:
    """Expected coverage of ±kσ under a Gaussian against the observed one, for k spanning 0..3."""
    errors, sigmas = _pairs(errors, sigmas)
    ks = np.linspace(0.0, 3.0, n_points)
    expected = erf(ks / np.sqrt(2.0))
    observed = np.array([np.mean(np.abs(errors) <= k * sigmas) for k in ks])
    return expected, observed


def draw_reliability(axis, curves: dict[str, tuple[np.ndarray, np.ndarray]]) -> None:
    """Observed against expected coverage on a matplotlib axis, one line per name, and the diagonal."""
    axis.plot([0, 1], [0, 1], color="grey", linewidth=1, label="ideal")
    for name, (expected, observed) in curves.items():
        axis.plot(expected, observed, marker="o", markersize=3, label=name)
    axis.set_xlabel("expected fraction inside ±kσ")
    axis.set_ylabel("observed fraction")


def reliability_plot(curves: dict[str, tuple[np.ndarray, np.ndarray]], path: Path, title: str) -> None:
    """One line per name (e.g. 'raw', 'calibrated'); the diagonal is perfect calibration."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    figure, axis = plt.subplots(figsize=(4.8, 4.5))
    draw_reliability(axis, curves)
    axis.set_title(title)
    axis.legend()
    figure.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    figure.savefig(path, dpi=120)
    plt.close(figure)
