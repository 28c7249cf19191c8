"""Plots of a functional's evaluation: atomisation-energy and ionisation-potential errors per
species, beside the baselines."""

from __future__ import annotations

from pathlib import Path

import numpy as np


def plot_evaluation(report: dict, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    ionized = sorted(report.get("reference_ionization_ev", {}))
    panels = [("atomization_kcal", report["molecules"], report["reference_atomization_kcal"],
               "mae_atomization_kcal", "kcal/mol", "atomisation energy")]
    if ionized:
        panels.append(("ionization_ev", ionized, report["reference_ionization_ev"], "mae_ionization_ev", "eV",
                       "vertical ionisation potential"))
    widths = [max(3.0, 0.45 * len(names)) for _, names, *_ in panels]
    figure, axes = plt.subplots(1, len(panels), figsize=(max(6.0, sum(widths)), 4.0), squeeze=False,
                                gridspec_kw={"width_ratios": widths})
    for ax, (key, names, reference, mae, unit, what) in zip(axes[0], panels):
        _error_bars(ax, report["functionals"], key, names, reference, mae, unit)
        ax.set_ylabel(f"{what} error ({unit})")
    axes[0][0].set_title(f"Self-consistent, {report['basis']}, against CCSD(T)/CBS")
    figure.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    figure.savefig(path, dpi=120)
    plt.close(figure)


def _error_bars(axes, functionals: dict, key: str, names: list[str], reference: dict, mae: str, unit: str) -> None:
    width = 0.8 / len(functionals)
    positions = np.arange(len(names))
    for i, (name, scores) in enumerate(functionals.items()):
        axes.bar(positions + i * width, [scores[key][n] - reference[n] for n in names], width,
                 label=f"{name}: MAE {scores[mae]:.2f} {unit}")
    axes.axhline(0.0, color="black", linewidth=0.8)
    axes.set_xticks(positions + 0.4 - width / 2, names, rotation=70, fontsize=8)
    axes.legend(fontsize=8)
