"""How well a potential reproduces labeled frames: errors per atom and per structure, and a parity plot."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np
from ase import Atoms

from esml.potentials.base import Potential, predict
from esml.training.data import GraphSet, check_labels
from esml.training.loss import error_metrics


def set_predictions(potential: Potential, data: GraphSet, batch_size: int = 32, forces: bool = True) -> dict:
    """Predictions next to labels: energy, reference_energy (n,) eV, n_atoms (n,), and when
    ``forces``, forces and reference_forces as flat arrays of components, eV/Å."""
    forces = forces and data.forces is not None
    parts: dict[str, list] = {"energy": [], "reference_energy": [], "n_atoms": [], "forces": [], "reference_forces": []}
    for batch in data.batches(batch_size):
        prediction = predict(potential, batch.graph, forces=forces)
        parts["energy"].append(prediction.energy.mean(0).detach().numpy())
        parts["reference_energy"].append(batch.energy.numpy())
        parts["n_atoms"].append(batch.graph.n_atoms_per_structure.numpy())
        if forces:
            parts["forces"].append(prediction.forces[0].detach().double().numpy().ravel())
            parts["reference_forces"].append(batch.forces.double().numpy().ravel())
    return {key: np.concatenate(value) for key, value in parts.items() if value}


def metrics_of(arrays: dict) -> dict:
    force_errors = arrays["forces"] - arrays["reference_forces"] if "forces" in arrays else None
    return error_metrics(arrays["energy"] - arrays["reference_energy"], arrays["n_atoms"], force_errors)


def evaluate_frames(potential: Potential, frames: Sequence[Atoms]) -> tuple[dict, dict]:
    """Error metrics (energy_mae eV/atom, force_mae eV/Å, ..., n_structures) and the arrays behind them."""
    check_labels(frames, forces=False)
    with_forces = all("forces" in atoms.calc.results for atoms in frames)
    arrays = set_predictions(potential, GraphSet(frames, potential.cutoff, forces=with_forces))
    return metrics_of(arrays), arrays


def parity_plot(arrays: dict, metrics: dict, path: Path, title: str) -> None:
    """Predicted against reference: energies per atom (shifted by their mean) and force components."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    panels = 2 if "forces" in arrays else 1
    figure, axes = plt.subplots(1, panels, figsize=(5 * panels, 4.6), squeeze=False)
    reference = arrays["reference_energy"] / arrays["n_atoms"]
    predicted = arrays["energy"] / arrays["n_atoms"]
    offset = reference.mean()
    _panel(axes[0, 0], 1000 * (reference - offset), 1000 * (predicted - offset), "energy − mean (meV/atom)",
           f"MAE {1000 * metrics['energy_mae']:.2f} meV/atom")
    if panels == 2:
        _panel(axes[0, 1], arrays["reference_forces"], arrays["forces"], "force component (eV/Å)",
               f"MAE {1000 * metrics['force_mae']:.1f} meV/Å")
    figure.suptitle(title)
    figure.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    figure.savefig(path, dpi=120)
    plt.close(figure)


def _panel(axis, reference, predicted, label: str, text: str) -> None:
    low, high = float(min(reference.min(), predicted.min())), float(max(reference.max(), predicted.max()))
    axis.plot([low, high], [low, high], color="grey", linewidth=1)
    axis.scatter(reference, predicted, s=3, alpha=0.5)
    axis.set_xlabel(f"reference {label}")
    axis.set_ylabel(f"model {label}")
    axis.text(0.05, 0.92, text, transform=axis.transAxes)
