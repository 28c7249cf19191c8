"""Learning curves: test error against training-set size on the stored splits, with wall time and
peak memory per point, and a log-log plot."""

from __future__ import annotations

import resource
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np

from esml.data.store import Store
from esml.properties.krr import KRRConfig, fit_krr, predict
from esml.properties.targets import split_frames, target, values

DEFAULT_SIZES = (100, 200, 500, 1000, 2000, 4000)


def learning_curve(store: Store, dataset: str, target_name: str, config: KRRConfig, sizes: list[int],
                   n_test: int | None = None, log: Callable[[str], None] = lambda _: None) -> dict:
    chosen = target(dataset, target_name)
    train = split_frames(store, dataset, "train", max(sizes), config.seed)
    test = split_frames(store, dataset, "test", n_test, config.seed)
    y_train, y_test = values(train, chosen), values(test, chosen)
    points = []
    for n in sorted(sizes):
        start = time.perf_counter()
        model = fit_krr(train[:n], y_train[:n], chosen.extensive, config, log, also_for=test)
        predicted, _ = predict(model, test)
        mae = float(np.abs(predicted - y_test).mean() * chosen.factor)
        seconds = time.perf_counter() - start
        points.append({"n_train": n, "mae": mae, "unit": chosen.unit, "seconds": seconds,
                       "peak_memory_mb": peak_memory_mb(), "sigma": model.sigma, "lambda": model.lam})
        log(f"N = {n}: test MAE {mae:.4g} {chosen.unit} ({seconds:.0f} s)")
    return {"dataset": dataset, "target": target_name, "model": f"krr-{config.representation}",
            "n_test": len(test), "seed": config.seed, "points": points}


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
