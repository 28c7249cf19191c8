"""A localisation study: sample realisations, train the network far from the transition, apply it
across, and read W_c and ν from the finite-size scaling of its output. A classical statistic of
the same realisations, scaled the same way, is the estimate beside it: the mean smallest exponent
× L (1/Λ, MacKinnon and Kramer's) for bars, the mean spacing ratio ⟨r⟩ for levels."""

from __future__ import annotations

import functools
from collections.abc import Callable
from dataclasses import asdict
from pathlib import Path

import numpy as np

from esml.disorder.anderson import realisation_ratios
from esml.disorder.classifier import Training, blocks, realisation_outputs, train_classifier
from esml.disorder.config import AndersonStudy
from esml.disorder.sampling import Point, sample
from esml.disorder.scaling import Estimate, ScalingFit, fit_scaling, weighted_estimate
from esml.disorder.transfer import bar_realisation

Statistic = Callable[[list[np.ndarray]], tuple[np.ndarray, np.ndarray]]  # realisations -> (values, weights)
CLASSICAL = {"transfer": "mean smallest exponent × L (1/Λ)", "levels": "mean spacing ratio ⟨r⟩"}


def study_points(study: AndersonStudy) -> dict[str, list[Point]]:
    """The (L, W) points of each part of the study, with their realisation counts."""
    def grid(sizes, disorders, samples):
        return [Point(size, disorder, study.realisations_for(size, disorder, samples))
                for size in sizes for disorder in disorders]

    return {"scaling": grid(study.sizes, study.disorders, study.samples_per_point),
            "training": grid(study.training_sizes, study.extended + study.localised, study.training_samples),
            "unseen": grid(study.unseen_sizes, study.unseen_disorders, study.unseen_samples)}


def realisation_function(study: AndersonStudy) -> Callable[[int, float, int], np.ndarray]:
    """compute(L, W, index) of the study's probe, picklable for worker processes."""
    if study.probe == "levels":
        return functools.partial(realisation_ratios, seed=study.seed, energy=study.energy, half_width=study.half_width)
    return functools.partial(bar_realisation, seed=study.seed, segments=study.segments, aspect=study.aspect,
                             keep=study.keep, energy=study.energy)


def samples_of(study: AndersonStudy, values: np.ndarray) -> np.ndarray:
    """A realisation's samples for the network, (n, d), from its stored numbers."""
    if study.probe == "levels":
        return blocks(values, study.block)
    return values.reshape(-1, study.keep)[:, : study.inputs]


def run_study(study: AndersonStudy, folder: Path, workers: int = 1,
              on_progress: Callable[[int, int], None] | None = None) -> tuple[dict, Training]:
    """Everything ``esml anderson`` reports, as a JSON-ready dict, and the trained network.
    Realisations are cached under ``folder``/cache, so a rerun (or an interrupted run's rerun)
    computes only what is missing."""
    parts = study_points(study)
    everything = list(dict.fromkeys(p for points in parts.values() for p in points))
    data = sample(everything, folder / "cache" / study.cache_name, realisation_function(study), workers, on_progress)
    samples = {point: [samples_of(study, values) for values in data[point].values] for point in everything}
    training = train_classifier([s for p in parts["training"] if p.disorder in study.extended for s in samples[p]],
                                [s for p in parts["training"] if p.disorder in study.localised for s in samples[p]],
                                study.epochs, study.seed)

    def network(realisations):
        return realisation_outputs(training, realisations)

    def classical(realisations):  # ⟨r⟩ of the ratios, or the mean smallest exponent × L of the segments
        numbers = [r if study.probe == "levels" else r.reshape(-1, study.keep)[:, 0] for r in realisations]
        return np.array([n.mean() if len(n) else np.nan for n in numbers]), np.array([len(n) for n in numbers])

    raw = {point: data[point].values for point in everything}
    result = {"study": asdict(study), "validation_accuracy": training.validation_accuracy,
              "training_samples": training.samples_seen, "classical_statistic": CLASSICAL[study.probe]}
    for name, statistic, realisations in (("network", network, samples), ("classical", classical, raw)):
        result[name] = _scaling_report(parts, realisations, statistic, study)
    result["training_points"] = [asdict(_estimate(point, samples[point], network)) for point in parts["training"]]
    return result, training


def _scaling_report(parts: dict[str, list[Point]], realisations: dict[Point, list[np.ndarray]], statistic: Statistic,
                    study: AndersonStudy) -> dict:
    estimates = [_estimate(point, realisations[point], statistic) for point in parts["scaling"]]
    fit = fit_scaling(estimates, study.order)
    spread = _bootstrap(parts["scaling"], realisations, statistic, study, fit)
    unseen = [_estimate(point, realisations[point], statistic) for point in parts["unseen"]]
    return {
        "w_c": fit.critical_disorder, "w_c_error": spread[0], "nu": fit.exponent, "nu_error": spread[1],
        "chi2_per_dof": fit.chi2 / max(fit.dof, 1), "coefficients": fit.coefficients,
        "points": [asdict(e) for e in estimates],
        "unseen": [{**asdict(e), "predicted": float(fit.predict(e.size, e.disorder)),
                    "z": float((e.value - fit.predict(e.size, e.disorder)) / e.error)} for e in unseen],
    }


def _estimate(point: Point, realisations: list[np.ndarray], statistic: Statistic) -> Estimate:
    values, weights = statistic(realisations)
    return weighted_estimate(point.size, point.disorder, values, weights)


def _bootstrap(points: list[Point], realisations: dict[Point, list[np.ndarray]], statistic: Statistic,
               study: AndersonStudy, fit: ScalingFit) -> tuple[float, float]:
    """Standard deviations of W_c and ν over fits to realisations resampled with replacement."""
    rng = np.random.default_rng(study.seed)
    per_point = {point: statistic(realisations[point]) for point in points}
    draws = []
    for _ in range(study.bootstrap):
        estimates = []
        for point in points:
            values, weights = per_point[point]
            pick = rng.integers(0, len(values), len(values))
            estimates.append(weighted_estimate(point.size, point.disorder, values[pick], weights[pick]))
        refit = fit_scaling(estimates, study.order, guess=fit.critical_disorder)
        draws.append((refit.critical_disorder, refit.exponent))
    return tuple(float(s) for s in np.std(draws, axis=0, ddof=1))
