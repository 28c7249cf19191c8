"""Attribution: which atoms a potential's energy comes from, and which features a property model leans on.

- Atoms: every esml potential is a sum of site energies, so each atom's share is exact (the shares
  sum to the energy), like Shapley values of an additive model. Shown relative to the element's
  reference energy, so a negative bar is an atom the environment stabilises.
- Features: permutation importance (scikit-learn), the loss in score when one feature column is
  shuffled on held-out data: model-agnostic, and honest about correlated features only in that
  shuffling one of two twins costs little.
"""

from __future__ import annotations

import copy
from pathlib import Path

import numpy as np
import torch
from ase import Atoms


def site_energies(potential, atoms: Atoms) -> tuple[np.ndarray, np.ndarray]:
    """(n_atoms,) eV each atom's energy, and (n_atoms,) eV the same less its element's reference energy."""
    from esml.graph import atoms_to_graph

    potential = copy.deepcopy(potential).double().eval()  # float64 without changing the caller's model
    graph = atoms_to_graph(atoms, potential.cutoff, dtype=torch.float64)
    with torch.no_grad():
        energies = potential.site_energies(graph).mean(0)
        references = potential.self_energies[potential.species_of(graph.numbers)]
    return energies.numpy(), (energies - references).numpy()


def plot_site_energies(atoms: Atoms, relative: np.ndarray, path: Path, title: str = "") -> None:
    """Bar per atom (labelled by element and index) of its energy relative to the element's reference."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    figure, axis = plt.subplots(figsize=(max(5.0, 0.25 * len(atoms)), 3.8))
    colours = ["tab:blue" if value < 0 else "tab:red" for value in relative]
    axis.bar(range(len(atoms)), relative, color=colours)
    axis.set_xticks(range(len(atoms)), [f"{s}{k}" for k, s in enumerate(atoms.get_chemical_symbols())],
                    rotation=90, fontsize=7)
    axis.axhline(0, color="k", lw=0.6)
    axis.set_ylabel("site energy − element reference (eV)")
    axis.set_title(title or atoms.get_chemical_formula())
    figure.tight_layout()
    figure.savefig(path, dpi=150)
    plt.close(figure)


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
