"""How well a potential reproduces labeled frames: errors per atom and per structure, a parity
plot, and for a model with an uncertainty (an ensemble, a GP) how many force errors fall inside
its ±1σ and ±2σ, with a reliability panel."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np
from ase import Atoms

from esml.potential import Potential, predict
from esml.training.calibration import coverage, draw_reliability, reliability_curve
from esml.training.data import GraphSet, check_labels
from esml.training.loss import error_metrics


def set_predictions(potential: Potential, data: GraphSet, batch_size: int = 32, forces: bool = True,
                    uncertainty: bool = False) -> dict:
    """Predictions next to labels: energy, reference_energy (n,) eV, n_atoms (n,), and when
    ``forces``, forces and reference_forces as flat arrays of components, eV/Å; with
    ``uncertainty`` also the model's raw σ of every force component (forces_std, eV/Å)."""
    forces = forces and data.forces is not None
    uncertainty = uncertainty and forces
    parts: dict[str, list] = {"energy": [], "reference_energy": [], "n_atoms": [], "forces": [], "reference_forces": [],
                              "forces_std": []}
    for batch in data.batches(batch_size):
        prediction = predict(potential, batch.graph, forces=forces, member_forces=uncertainty)
        parts["energy"].append(prediction.energy.mean(0).detach().numpy())
        parts["reference_energy"].append(batch.energy.numpy())
        parts["n_atoms"].append(batch.graph.n_atoms_per_structure.numpy())
        if forces:
            parts["forces"].append(prediction.forces.mean(0).detach().double().numpy().ravel())
            parts["reference_forces"].append(batch.forces.double().numpy().ravel())
        if uncertainty:
            _, forces_std = potential.uncertainty(batch.graph, prediction, forces=True)
            parts["forces_std"].append(forces_std.detach().double().numpy().ravel())
    return {key: np.concatenate(value) for key, value in parts.items() if value}


def metrics_of(arrays: dict) -> dict:
    force_errors = arrays["forces"] - arrays["reference_forces"] if "forces" in arrays else None
    return error_metrics(arrays["energy"] - arrays["reference_energy"], arrays["n_atoms"], force_errors)


def evaluate_frames(potential: Potential, frames: Sequence[Atoms], sigma_scale: float | None = None) -> tuple[dict, dict]:
    """Error metrics (energy_mae eV/atom, force_mae eV/Å, ..., n_structures) and the arrays behind
    them. A model whose force σ is not zero everywhere also gets force_coverage_1sigma and
    _2sigma: the share of force-component errors inside ±kσ, with σ multiplied by
    ``sigma_scale`` (the calibration saved with the model; 1, the raw σ, without one)."""
    check_labels(frames, forces=False)
    with_forces = all("forces" in atoms.calc.results for atoms in frames)
    arrays = set_predictions(potential, GraphSet(frames, potential.cutoff, forces=with_forces), uncertainty=True)
    metrics = metrics_of(arrays)
    if "forces_std" in arrays and arrays["forces_std"].any():
        arrays["forces_std"] = arrays["forces_std"] * (sigma_scale or 1.0)
        errors = arrays["forces"] - arrays["reference_forces"]
        metrics.update(sigma_scale=sigma_scale or 1.0, force_coverage_1sigma=coverage(errors, arrays["forces_std"], 1.0),
                       force_coverage_2sigma=coverage(errors, arrays["forces_std"], 2.0))
    else:
        arrays.pop("forces_std", None)
    return metrics, arrays


def parity_plot(arrays: dict, metrics: dict, path: Path, title: str) -> None:
    """Predicted against reference: energies per atom (shifted by their mean) and force components."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    panels = 1 + ("forces" in arrays) + ("forces_std" in arrays)
    figure, axes = plt.subplots(1, panels, figsize=(5 * panels, 4.6), squeeze=False)
    reference = arrays["reference_energy"] / arrays["n_atoms"]
    predicted = arrays["energy"] / arrays["n_atoms"]
    offset = reference.mean()
    _panel(axes[0, 0], 1000 * (reference - offset), 1000 * (predicted - offset), "energy − mean (meV/atom)",
           f"MAE {1000 * metrics['energy_mae']:.2f} meV/atom")
    if "forces" in arrays:
        _panel(axes[0, 1], arrays["reference_forces"], arrays["forces"], "force component (eV/Å)",
               f"MAE {1000 * metrics['force_mae']:.1f} meV/Å")
    if "forces_std" in arrays:
        _reliability_panel(axes[0, 2], arrays["forces"] - arrays["reference_forces"], arrays["forces_std"], metrics)
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


def _reliability_panel(axis, errors: np.ndarray, sigmas: np.ndarray, metrics: dict) -> None:
    draw_reliability(axis, {"force components": reliability_curve(errors, sigmas)})
    axis.text(0.05, 0.92, f"±1σ: {100 * metrics['force_coverage_1sigma']:.1f} %  (σ × {metrics['sigma_scale']:.2f})",
              transform=axis.transAxes)
