"""Learning curves: test error against training-set size on the stored splits, with wall time and
peak memory per point, and a log-log plot."""

from __future__ import annotations

import resource
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np

from esml.data.store import Store
from esml.properties.krr import KRRConfig, fit_krr_targets, predict
from esml.properties.targets import split_frames, target, values


def learning_curve(store: Store, dataset: str, target_name: str, config: KRRConfig, sizes: list[int],
                   n_test: int | None = None, log: Callable[[str], None] = lambda _: None) -> dict:
    return learning_curves(store, dataset, [target_name], config, sizes, n_test, log)[0]


def learning_curves(store: Store, dataset: str, target_names: list[str], config: KRRConfig, sizes: list[int],
                    n_test: int | None = None, log: Callable[[str], None] = lambda _: None) -> list[dict]:
    """One curve per target on the same nested training sets; at each N the targets share one
    kernel computation, so a point's time and peak memory are those of all its targets together."""
    chosen = [target(dataset, name) for name in target_names]
    train = split_frames(store, dataset, "train", max(sizes), config.seed)
    test = split_frames(store, dataset, "test", n_test, config.seed)
    curves = [{"dataset": dataset, "target": name, "model": f"krr-{config.representation}", "n_test": len(test),
               "seed": config.seed, "points": []} for name in target_names]
    for n in sorted(sizes):
        start = time.perf_counter()
        models = fit_krr_targets(train[:n], [(values(train[:n], one), one.extensive) for one in chosen], config, log,
                                 also_for=test)
        for curve, one, model in zip(curves, chosen, models):
            predicted, _ = predict(model, test)
            mae = float(np.abs(predicted - values(test, one)).mean() * one.factor)
            curve["points"].append({"n_train": n, "mae": mae, "unit": one.unit, "sigma": model.sigma, "lambda": model.lam})
            log(f"N = {n}: {curve['target']} test MAE {mae:.4g} {one.unit}")
        seconds, peak = time.perf_counter() - start, peak_memory_mb()
        for curve in curves:
            curve["points"][-1] |= {"seconds": seconds, "peak_memory_mb": peak}
        log(f"N = {n}: {seconds:.0f} s, peak memory {peak:.0f} MB")
    return curves


def peak_memory_mb() -> float:
    """The process's peak resident memory so far (Linux reports kB)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def plot_learning_curves(reports: list[dict], path: Path) -> None:
    """One log-log line per model (reports of the same dataset and target), with 1 kcal/mol marked."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    figure, axis = plt.subplots(figsize=(6, 4.2))
    for report in reports:
        points = report["points"]
        axis.loglog([p["n_train"] for p in points], [p["mae"] for p in points], "o-", label=report["model"])
    first = reports[0]
    unit = first["points"][0]["unit"]
    if unit == "kcal/mol":
        axis.axhline(1.0, color="grey", linestyle=":", label="1 kcal/mol")
    axis.set_xlabel("training molecules N")
    axis.set_ylabel(f"test MAE ({unit})")
    axis.set_title(f"{first['dataset']} {first['target']}: {first['n_test']} test molecules")
    axis.grid(True, which="both", alpha=0.3)
    axis.legend()
    figure.tight_layout()
    figure.savefig(path, dpi=120)
    plt.close(figure)
