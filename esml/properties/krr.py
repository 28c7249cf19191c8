"""Kernel ridge regression for molecular properties, with a GP-style uncertainty.

The target is first reduced by a baseline: for extensive quantities (energies) a per-element
linear fit on the atom counts (the dressed-atom energy, which also absorbs any choice of free-atom
reference), for intensive ones the mean. The kernel model learns the rest.

σ (as a multiple of the representation's median distance) and the regulariser λ come from k-fold
cross-validation on at most ``cv_max`` training molecules; the final model solves (K + λI)α = y
by Cholesky in float64 on all of them. Read as a Gaussian process with prior covariance s²K and
noise s²λ, the posterior gives each prediction a standard deviation; s² = yᵀα / N (maximum
likelihood).
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import scipy.linalg
from ase import Atoms

from esml.properties.kernels import kernel, median_distance, self_kernel
from esml.properties.representations import (
    REPRESENTATIONS,
    Features,
    Layout,
    PropertyError,
    check_molecules,
    featurize,
    fit_layout,
)


@dataclass(frozen=True)
class KRRConfig:
    representation: str = "fchl19"
    sigma_factors: tuple[float, ...] = (0.5, 1.0, 2.0, 4.0, 8.0, 16.0)  # × the median distance
    lambdas: tuple[float, ...] = (1e-10, 1e-8, 1e-6, 1e-4, 1e-2)
    folds: int = 5
    cv_max: int = 2000
    seed: int = 0


@dataclass
class KernelRidge:
    """A fitted model: what it needs to featurize new molecules and predict."""

    layout: Layout
    features: Features
    alpha: np.ndarray
    cholesky: np.ndarray
    sigma: float
    lam: float
    amplitude: float  # s², in target units squared
    baseline: dict  # {"kind": "elements"|"mean", "coefficients": {Z: value} | "mean": value}
    target: dict = field(default_factory=dict)  # name, unit, dataset: for the user's information
    cv: dict = field(default_factory=dict)

    @property
    def metric(self) -> str:
        return REPRESENTATIONS[self.layout.name].metric


def baseline_values(baseline: dict, frames: list[Atoms]) -> np.ndarray:
    if baseline["kind"] == "mean":
        return np.full(len(frames), baseline["mean"])
    coefficients = {int(z): value for z, value in baseline["coefficients"].items()}
    return np.array([sum(coefficients.get(int(z), 0.0) for z in atoms.numbers) for atoms in frames])


def fit_baseline(frames: list[Atoms], y: np.ndarray, extensive: bool) -> dict:
    if not extensive:
        return {"kind": "mean", "mean": float(y.mean())}
    elements = sorted({int(z) for atoms in frames for z in atoms.numbers})
    counts = np.array([[np.count_nonzero(atoms.numbers == z) for z in elements] for atoms in frames], dtype=float)
    coefficients, *_ = np.linalg.lstsq(counts, y, rcond=None)
    return {"kind": "elements", "coefficients": {z: float(c) for z, c in zip(elements, coefficients)}}


def fit_krr(frames: list[Atoms], y: np.ndarray, extensive: bool, config: KRRConfig = KRRConfig(),
            log: Callable[[str], None] = lambda _: None, also_for: list[Atoms] = ()) -> KernelRidge:
    """``also_for``: molecules the model will be asked about (a test set); padded representations
    (Coulomb matrix, Bag of Bonds) are laid out large enough for them too. Their values are not used."""
    return fit_krr_targets(frames, [(y, extensive)], config, log, also_for)[0]


def fit_krr_targets(frames: list[Atoms], targets: list[tuple[np.ndarray, bool]], config: KRRConfig = KRRConfig(),
                    log: Callable[[str], None] = lambda _: None, also_for: list[Atoms] = ()) -> list[KernelRidge]:
    """One model per (values, extensive) on the same molecules. They share the features and one
    kernel computation (several σ cost one pass over the atom pairs, the expensive part at large N)."""
    targets = [(np.asarray(y, dtype=np.float64), extensive) for y, extensive in targets]
    if any(len(frames) != len(y) for y, _ in targets) or len(frames) < config.folds:
        raise PropertyError(f"need at least {config.folds} molecules with a value each to fit (got {len(frames)})")
    layout = fit_layout(config.representation, [*frames, *also_for])
    features = featurize(layout, frames)
    metric = REPRESENTATIONS[layout.name].metric
    scale = median_distance(features, metric, seed=config.seed)
    cv_setup = cross_validation(features, scale, metric, config)
    fits = []
    for y, extensive in targets:
        baseline = fit_baseline(frames, y, extensive)
        residual = y - baseline_values(baseline, frames)
        sigma, lam, cv = cross_validate(cv_setup, residual, config, log)
        log(f"σ = {sigma:.4g} ({sigma / scale:g} × median distance), λ = {lam:g}; fitting on {len(frames)} molecules")
        fits.append((baseline, residual, sigma, lam, cv))
    del cv_setup  # its kernels are not needed beside the full ones, which may fill memory
    sigmas = sorted({fit[2] for fit in fits})
    matrices = dict(zip(sigmas, kernel(features, features, sigmas, metric)))
    models = []
    for index, (baseline, residual, sigma, lam, cv) in enumerate(fits):
        shared_later = any(later[2] == sigma for later in fits[index + 1:])
        matrix = matrices[sigma].copy() if shared_later else matrices.pop(sigma)  # the last user factors in place
        matrix[np.diag_indices_from(matrix)] += lam
        cholesky = _cholesky(matrix, lam)
        alpha = scipy.linalg.cho_solve((cholesky, True), residual)
        amplitude = float(residual @ alpha / len(residual))
        models.append(KernelRidge(layout, features, alpha, cholesky, sigma, lam, amplitude, baseline, cv=cv))
    return models


@dataclass(frozen=True)
class CrossValidation:
    """The molecules k-fold cross-validation uses (at most ``cv_max``), its folds, and their kernel
    at each σ: computed once and shared by all targets of the same molecules."""

    molecules: np.ndarray
    folds: list[np.ndarray]
    sigmas: list[float]
    kernels: list[np.ndarray]


def cross_validation(features: Features, scale: float, metric: str, config: KRRConfig) -> CrossValidation:
    rng = np.random.default_rng(config.seed)
    chosen = np.sort(rng.permutation(features.n_molecules)[:config.cv_max])
    subset = _subset(features, chosen)
    sigmas = [factor * scale for factor in config.sigma_factors]
    folds = np.array_split(rng.permutation(len(chosen)), config.folds)
    return CrossValidation(chosen, folds, sigmas, kernel(subset, subset, sigmas, metric))


def cross_validate(cv: CrossValidation, y: np.ndarray, config: KRRConfig,
                   log: Callable[[str], None]) -> tuple[float, float, dict]:
    """σ and λ with the lowest k-fold validation MAE of the values ``y`` (one per molecule)."""
    errors = np.zeros((len(cv.sigmas), len(config.lambdas)))
    for s, matrix in enumerate(cv.kernels):
        for l, lam in enumerate(config.lambdas):
            errors[s, l] = np.mean([_fold_mae(matrix, y[cv.molecules], fold, lam) for fold in cv.folds])
    s, l = np.unravel_index(np.argmin(errors), errors.shape)
    # the MAE is left to the caller, which knows the unit the values are reported in
    log(f"cross-validation on {len(cv.molecules)} molecules chose σ factor {config.sigma_factors[s]}, λ {config.lambdas[l]:g}")
    table = {"sigma_factors": list(config.sigma_factors), "lambdas": list(config.lambdas), "mae": errors.tolist(),
             "best_mae": float(errors[s, l]), "n": int(len(cv.molecules))}
    return cv.sigmas[s], config.lambdas[l], table


def _fold_mae(matrix: np.ndarray, y: np.ndarray, validation: np.ndarray, lam: float) -> float:
    train = np.setdiff1d(np.arange(len(y)), validation)
    block = matrix[np.ix_(train, train)].copy()
    block[np.diag_indices_from(block)] += lam
    try:
        alpha = scipy.linalg.cho_solve(scipy.linalg.cho_factor(block, lower=True), y[train])
    except np.linalg.LinAlgError:
        return np.inf  # λ too small for this σ: the matrix is not numerically positive definite
    return float(np.abs(matrix[np.ix_(validation, train)] @ alpha - y[validation]).mean())


def _cholesky(matrix: np.ndarray, lam: float) -> np.ndarray:
    try:
        # The transpose of a symmetric C-ordered matrix is the same matrix in Fortran order, which LAPACK
        # factors in place: at N = 20,000 a copy would be another 3.2 GB.
        return scipy.linalg.cholesky(matrix.T, lower=True, overwrite_a=True, check_finite=False)
    except np.linalg.LinAlgError:
        raise PropertyError(f"the kernel matrix is not positive definite at λ = {lam:g} (duplicate molecules "
                            "with different values?); deduplicate or raise the smallest λ") from None


def _subset(features: Features, molecules: np.ndarray) -> Features:
    if not features.local:
        return Features(features.vectors[molecules], len(molecules))
    renumber = np.full(features.n_molecules, -1)
    renumber[molecules] = np.arange(len(molecules))
    rows = renumber[features.molecule] >= 0
    return Features(features.vectors[rows], len(molecules), features.species[rows], renumber[features.molecule[rows]])


def predict(model: KernelRidge, frames: list[Atoms], with_std: bool = False, chunk: int = 1000
            ) -> tuple[np.ndarray, np.ndarray | None]:
    """Predicted values (and posterior standard deviations), in chunks of molecules."""
    check_molecules(frames, model.layout)
    means, stds = [], []
    for start in range(0, len(frames), chunk):
        part = frames[start:start + chunk]
        features = featurize(model.layout, part)
        cross = kernel(features, model.features, [model.sigma], model.metric)[0]
        means.append(cross @ model.alpha + baseline_values(model.baseline, part))
        if with_std:
            solved = scipy.linalg.solve_triangular(model.cholesky, cross.T, lower=True)
            prior = self_kernel(features, model.sigma, model.metric)
            variance = model.amplitude * (prior - (solved**2).sum(0) + model.lam)
            stds.append(np.sqrt(np.clip(variance, 0.0, None)))
    return np.concatenate(means), np.concatenate(stds) if with_std else None


def save(model: KernelRidge, path: Path) -> None:
    meta = {"format": "esml-krr-1", "layout": model.layout.to_json(), "sigma": model.sigma, "lam": model.lam,
            "amplitude": model.amplitude, "baseline": model.baseline, "target": model.target, "cv": model.cv}
    features = model.features
    arrays = {"vectors": features.vectors, "alpha": model.alpha, "cholesky": model.cholesky}
    if features.local:
        arrays |= {"species": features.species, "molecule": features.molecule}
    with open(path, "wb") as handle:
        np.savez(handle, meta=np.frombuffer(json.dumps(meta).encode(), dtype=np.uint8), **arrays)


def load(path: Path) -> KernelRidge:
    try:
        with np.load(path) as data:
            meta = json.loads(data["meta"].tobytes())
            arrays = {key: data[key] for key in data.files if key != "meta"}
    except (OSError, ValueError, KeyError) as error:
        raise PropertyError(f"{path} is not an esml property model ({type(error).__name__}); "
                            "make one with `esml fit-property`") from None
    features = Features(arrays["vectors"], len(arrays["alpha"]), arrays.get("species"), arrays.get("molecule"))
    return KernelRidge(Layout.from_json(meta["layout"]), features, arrays["alpha"], arrays["cholesky"], meta["sigma"],
                       meta["lam"], meta["amplitude"], meta["baseline"], meta["target"], meta["cv"])
