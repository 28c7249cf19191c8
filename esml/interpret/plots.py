"""Pictures of a descriptor: the target against a 1D descriptor, or the samples in the plane of a
2D descriptor coloured by target or class (the map that shows whether classes separate)."""

from __future__ import annotations

from pathlib import Path

import numpy as np


def plot_descriptor(points: np.ndarray, y: np.ndarray, formulas: tuple[str, ...], path: Path,
                    classify: bool = False, labels: list[str] | None = None, target_name: str = "target") -> None:
    """points: (n, d) descriptor values, d = 1 or 2; y: target values or class indices into ``labels``."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    figure, axis = plt.subplots(figsize=(6.4, 4.8))
    if points.shape[1] == 1 and not classify:
        axis.scatter(points[:, 0], y, s=18)
        axis.set_ylabel(target_name)
    elif classify:
        second = points[:, 1] if points.shape[1] > 1 else np.zeros(len(points))
        for k, name in enumerate(labels or [str(v) for v in np.unique(y)]):
            chosen = y == k
            axis.scatter(points[chosen, 0], second[chosen], s=22, label=name, marker="os^vD"[k % 5])
        axis.legend(title=target_name)
    else:
        from matplotlib.colors import Normalize, TwoSlopeNorm

        # Centre the colour scale on zero when the target changes sign (which phase is stable).
        norm = TwoSlopeNorm(0.0, y.min(), y.max()) if y.min() < 0 < y.max() else Normalize(y.min(), y.max())
        shown = axis.scatter(points[:, 0], points[:, 1], c=y, cmap="coolwarm", norm=norm, s=22, edgecolors="k",
                             linewidths=0.3)
        figure.colorbar(shown, label=target_name)
    axis.set_xlabel(f"d1 = {formulas[0]}", fontsize=8)
    if points.shape[1] > 1:
        axis.set_ylabel(f"d2 = {formulas[1]}", fontsize=8)
    figure.tight_layout()
    figure.savefig(path, dpi=150)
    plt.close(figure)
