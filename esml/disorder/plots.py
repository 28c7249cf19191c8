"""The network's output against W for each L (the curves cross at W_c), and their collapse onto
one scaling function."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from esml.atomic import write_atomically
from esml.disorder.scaling import scaling_function, scaling_variable


def plot_study(result: dict, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fit = result["network"]
    figure, (curves, collapse) = plt.subplots(1, 2, figsize=(11, 4.2))
    sizes = sorted({p["size"] for p in fit["points"]})
    colours = plt.cm.viridis(np.linspace(0, 0.9, len(sizes) + 1))
    critical, exponent = fit["w_c"], fit["nu"]
    for colour, size in zip(colours, sizes):
        points = sorted((p for p in fit["points"] if p["size"] == size), key=lambda p: p["disorder"])
        w = np.array([p["disorder"] for p in points])
        q = np.array([p["value"] for p in points])
        e = np.array([p["error"] for p in points])
        curves.errorbar(w, q, e, fmt="o", ms=3, color=colour, label=f"L = {size}")
        fine = np.linspace(w.min(), w.max(), 100)
        curves.plot(fine, scaling_function(fit["coefficients"], scaling_variable(size, fine, critical, exponent)),
                    color=colour, lw=0.8)
        collapse.errorbar(scaling_variable(size, w, critical, exponent), q, e, fmt="o", ms=3, color=colour,
                          label=f"L = {size}")
    for point in fit["unseen"]:
        curves.errorbar(point["disorder"], point["value"], point["error"], fmt="s", mfc="none", color=colours[-1],
                        label=f"L = {point['size']} (unseen)" if point is fit["unseen"][0] else None)
    curves.axvline(critical, color="grey", ls="--", lw=0.8)
    curves.set(xlabel="disorder W (units of t)", ylabel="network output: logit P(extended)",
               title=f"W_c = {critical:.2f} ± {fit['w_c_error']:.2f}")
    x = scaling_variable([p["size"] for p in fit["points"]], [p["disorder"] for p in fit["points"]], critical, exponent)
    fine = np.linspace(x.min(), x.max(), 100)
    collapse.plot(fine, scaling_function(fit["coefficients"], fine), color="black", lw=0.8)
    collapse.set(xlabel="(W − W_c)/W_c · L^(1/ν)", ylabel="network output", title=f"ν = {exponent:.2f} ± {fit['nu_error']:.2f}")
    curves.legend(fontsize=7)
    figure.tight_layout()
    write_atomically(path, lambda temporary: figure.savefig(temporary, dpi=120, format="png"))
    plt.close(figure)


def plot_structure(radii: np.ndarray, rdf: np.ndarray, angles: np.ndarray, path: Path, title: str) -> None:
    """g(r) and the bond-angle distribution of one cell."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    figure, (left, right) = plt.subplots(1, 2, figsize=(10, 3.8))
    left.plot(radii, rdf, lw=1)
    left.axhline(1, color="grey", lw=0.6, ls=":")
    left.set(xlabel="r (Å)", ylabel="g(r)", title=title)
    right.hist(angles, bins=90, range=(0, 180), density=True)
    right.set(xlabel="bond angle (degrees)", ylabel="density")
    figure.tight_layout()
    write_atomically(path, lambda temporary: figure.savefig(temporary, dpi=120, format="png"))
    plt.close(figure)
