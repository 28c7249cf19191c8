"""Which features a property model leans on: permutation importance (scikit-learn), the loss in
score when one feature column is shuffled on held-out data; model-agnostic, and honest about
correlated features only in that shuffling one of two twins costs little. (Which atoms a potential's
energy comes from: :mod:`esml.potentials.attribution`.)"""

from __future__ import annotations

from pathlib import Path

import numpy as np


def feature_importance(model, features: np.ndarray, y: np.ndarray, names: list[str], repeats: int = 5,
                       seed: int = 0) -> list[dict]:
    """Permutation importance on held-out data, most important first: mean and std of the score drop."""
    from sklearn.inspection import permutation_importance

    result = permutation_importance(model, features, y, n_repeats=repeats, random_state=seed, n_jobs=1)
    order = np.argsort(-result.importances_mean)
    return [{"feature": names[k], "importance": float(result.importances_mean[k]),
             "std": float(result.importances_std[k])} for k in order]


def plot_feature_importance(ranked: list[dict], path: Path, top: int = 15, score: str = "score") -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    shown = ranked[:top][::-1]
    figure, axis = plt.subplots(figsize=(6.4, 0.3 * len(shown) + 1.2))
    axis.barh([r["feature"] for r in shown], [r["importance"] for r in shown], xerr=[r["std"] for r in shown])
    axis.set_xlabel(f"drop in {score} when shuffled")
    axis.tick_params(axis="y", labelsize=7)
    figure.tight_layout()
    figure.savefig(path, dpi=150)
    plt.close(figure)
