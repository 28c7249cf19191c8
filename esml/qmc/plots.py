"""The convergence plot of a VMC run: the energy of every optimisation step, its running mean, the
Hartree–Fock energy and the baseline's (where it is another method), and the final estimate with its error bar."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from esml.qmc.orbitals import Baseline


def plot_convergence(history: list[dict], baseline: Baseline, result: dict, title: str, path: Path,
                     exact: float | None = None) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    steps = np.array([record["step"] for record in history])
    energy = np.array([record["energy"] for record in history])
    figure, axis = plt.subplots(figsize=(6.4, 4.2))
    axis.plot(steps, energy, color="lightgrey", lw=0.8, label="E per step")
    window = max(1, len(energy) // 20)
    if len(energy) >= window:
        running = np.convolve(energy, np.ones(window) / window, mode="valid")
        axis.plot(steps[window - 1:], running, color="C0", label=f"running mean ({window} steps)")
    hartree_fock = baseline.hartree_fock_energy
    axis.axhline(hartree_fock, color="C3", ls="--", label=f"Hartree–Fock {hartree_fock:.5f}")
    if baseline.energy != hartree_fock:
        axis.axhline(baseline.energy, color="C1", ls="--", label=f"{baseline.method} {baseline.energy:.5f}")
    if exact is not None:
        axis.axhline(exact, color="k", ls=":", label=f"exact {exact:.5f}")
    low, high = result["energy_ha"] - result["error_ha"], result["energy_ha"] + result["error_ha"]
    axis.axhspan(low, high, color="C2", alpha=0.4, label=f"VMC {result['energy_ha']:.5f}({result['error_ha']:.1e})")
    bottom = min(exact if exact is not None else low, low) - 0.02
    axis.set_ylim(bottom, hartree_fock + 0.05)
    axis.set_xlabel("optimisation step")
    axis.set_ylabel("energy (Ha)")
    axis.set_title(title)
    axis.legend(fontsize=8)
    figure.tight_layout()
    figure.savefig(path, dpi=120)
    plt.close(figure)
