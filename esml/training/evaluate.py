"""How well a potential reproduces labeled frames: errors per atom and per structure, a parity
plot, and for a model with an uncertainty (an ensemble, a GP) how many force errors fall inside
its ±1σ and ±2σ, with a reliability panel."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from ase import Atoms

from esml.potential import Potential, predict
from esml.training.calibration import coverage, draw_reliability, reliability_curve
from esml.training.data import GraphSet, check_labels
from esml.training.loss import error_metrics


@dataclass(frozen=True)
class FrameErrors:
    """A potential's predictions next to the labels of n structures with N force components in all.

    energy, reference_energy  (n,) eV; n_atoms (n,)
    forces, reference_forces  (N,) eV/Å, flat components, or None for frames without forces
    forces_std                (N,) eV/Å, the model's σ times ``sigma_scale``, or None for a model
                              without one (a single network) or when not asked for
    dipole, reference_dipole  (n, 3) e·Å, for a model that predicts dipoles on frames that have them
    """

    energy: np.ndarray
    reference_energy: np.ndarray
    n_atoms: np.ndarray
    forces: np.ndarray | None = None
    reference_forces: np.ndarray | None = None
    forces_std: np.ndarray | None = None
    sigma_scale: float = 1.0
    dipole: np.ndarray | None = None
    reference_dipole: np.ndarray | None = None

    @property
    def energy_errors(self) -> np.ndarray:
        """(n,) eV per structure."""
        return self.energy - self.reference_energy

    @property
    def force_errors(self) -> np.ndarray | None:
        """(N,) eV/Å."""
        return None if self.forces is None else self.forces - self.reference_forces

    def metrics(self) -> dict:
        """MAE and RMSE per atom, per structure and per force component (:func:`error_metrics`);
        ``energy_mae_offset_free`` (eV/atom) after removing the mean error per atom, which a constant
        shift of the reference energies leaves unchanged; with a σ, ``force_coverage_1sigma``/``_2sigma``."""
        dipole_errors = None if self.dipole is None else self.dipole - self.reference_dipole
        metrics = error_metrics(self.energy_errors, self.n_atoms, self.force_errors, dipole_errors)
        per_atom = self.energy_errors / self.n_atoms
        metrics["energy_mae_offset_free"] = float(np.abs(per_atom - per_atom.mean()).mean())
        if self.forces_std is not None:
            errors = self.force_errors
            metrics.update(sigma_scale=self.sigma_scale, force_coverage_1sigma=coverage(errors, self.forces_std, 1.0),
                           force_coverage_2sigma=coverage(errors, self.forces_std, 2.0))
        return metrics


def set_predictions(potential: Potential, data: GraphSet, batch_size: int = 32, forces: bool = True,
                    uncertainty: bool = False, sigma_scale: float | None = None) -> FrameErrors:
    """``potential`` (mean over members) on a labeled set; with ``uncertainty`` its force σ too,
    multiplied by ``sigma_scale`` (the calibration saved with a model; the raw σ without one)."""
    forces = forces and data.forces is not None
    uncertainty = uncertainty and forces
    dipoles = potential.predicts_dipole and data.dipole is not None
    parts: dict[str, list] = {"energy": [], "reference_energy": [], "n_atoms": [], "forces": [], "reference_forces": [],
                              "forces_std": [], "dipole": [], "reference_dipole": []}
    for batch in data.batches(batch_size):
        prediction = predict(potential, batch.graph, forces=forces, member_forces=uncertainty)
        parts["energy"].append(prediction.energy.mean(0).detach().numpy())
        parts["reference_energy"].append(batch.energy.numpy())
        parts["n_atoms"].append(batch.graph.n_atoms_per_structure.numpy())
        if forces:
            parts["forces"].append(prediction.forces.mean(0).detach().double().numpy().ravel())
            parts["reference_forces"].append(batch.forces.double().numpy().ravel())
        if dipoles:
            parts["dipole"].append(potential.dipole(batch.graph, batch.charge).mean(0).detach().numpy())
            parts["reference_dipole"].append(batch.dipole.numpy())
        if uncertainty:
            _, forces_std = potential.uncertainty(batch.graph, prediction, forces=True)
            parts["forces_std"].append(forces_std.detach().double().numpy().ravel())
    arrays = {key: np.concatenate(value) for key, value in parts.items() if value}
    if "forces_std" in arrays and not arrays["forces_std"].any():  # one network: no σ at all
        del arrays["forces_std"]
    if "forces_std" in arrays:
        arrays["forces_std"] = arrays["forces_std"] * (sigma_scale or 1.0)
    return FrameErrors(**arrays, sigma_scale=sigma_scale or 1.0)


def evaluate_frames(potential: Potential, frames: Sequence[Atoms], sigma_scale: float | None = None,
                    uncertainty: bool = True) -> FrameErrors:
    """``potential`` on labeled frames (with forces where every frame has them), evaluated in the
    potential's own precision as its calculator would; see :class:`FrameErrors` and its ``metrics()``."""
    check_labels(frames, forces=False)
    with_forces = all("forces" in atoms.calc.results for atoms in frames)
    data = GraphSet(frames, potential.cutoff, forces=with_forces, dtype=potential.dtype)
    return set_predictions(potential, data, uncertainty=uncertainty, sigma_scale=sigma_scale)


def parity_plot(result: FrameErrors, metrics: dict, path: Path, title: str) -> None:
    """Predicted against reference: energies per atom (shifted by their mean) and force components."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    panels = 1 + (result.forces is not None) + (result.forces_std is not None)
    figure, axes = plt.subplots(1, panels, figsize=(5 * panels, 4.6), squeeze=False)
    reference = result.reference_energy / result.n_atoms
    predicted = result.energy / result.n_atoms
    offset = reference.mean()
    _panel(axes[0, 0], 1000 * (reference - offset), 1000 * (predicted - offset), "energy − mean (meV/atom)",
           f"MAE {1000 * metrics['energy_mae']:.2f} meV/atom")
    if result.forces is not None:
        _panel(axes[0, 1], result.reference_forces, result.forces, "force component (eV/Å)",
               f"MAE {1000 * metrics['force_mae']:.1f} meV/Å")
    if result.forces_std is not None:
        _reliability_panel(axes[0, 2], result.force_errors, result.forces_std, metrics)
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
