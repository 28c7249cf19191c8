"""Plots of a functional's evaluation: atomisation-energy errors per molecule, beside the baselines."""

from __future__ import annotations

from pathlib import Path

import numpy as np


def plot_atomization_errors(report: dict, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    molecules = report["molecules"]
    reference = report["reference_atomization_kcal"]
    functionals = report["functionals"]
    width = 0.8 / len(functionals)
    figure, axes = plt.subplots(figsize=(max(6.0, 0.45 * len(molecules)), 4.0))
    positions = np.arange(len(molecules))
    for i, (name, scores) in enumerate(functionals.items()):
        errors = [scores["atomization_kcal"][m] - reference[m] for m in molecules]
        axes.bar(positions + i * width, errors, width,
                 label=f"{name}: MAE {scores['mae_atomization_kcal']:.2f} kcal/mol")
    axes.axhline(0.0, color="black", linewidth=0.8)
    axes.set_xticks(positions + 0.4 - width / 2, molecules, rotation=70, fontsize=8)
    axes.set_ylabel("atomisation energy error (kcal/mol)")
    axes.set_title(f"Self-consistent, {report['basis']}, against CCSD(T)/CBS")
    axes.legend(fontsize=8)
    figure.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    figure.savefig(path, dpi=120)
    plt.close(figure)
