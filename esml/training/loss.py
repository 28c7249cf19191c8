"""Losses and error metrics: pure functions of predictions and labels.

Energy terms are per atom (eV/atom) so that molecules of different sizes weigh alike;
force terms are per Cartesian component (eV/Å), dipole terms per component (e·Å).
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np
import torch


class LossTerms(NamedTuple):
    total: torch.Tensor
    energy_mse: torch.Tensor  # (eV/atom)²
    force_mse: torch.Tensor  # (eV/Å)²
    dipole_mse: torch.Tensor  # (e·Å)²


def loss_terms(energy: torch.Tensor, forces: torch.Tensor | None, target_energy: torch.Tensor,
               target_forces: torch.Tensor | None, n_atoms: torch.Tensor,
               energy_weight: float, force_weight: float,
               dipole: torch.Tensor | None = None, target_dipole: torch.Tensor | None = None, dipole_weight: float = 0.0) -> LossTerms:
    """energy (n_structures,) float64 eV; forces (n_atoms, 3) eV/Å; dipole (n_structures, 3) e·Å."""
    energy_mse = (((energy - target_energy) / n_atoms) ** 2).mean()
    force_mse = ((forces - target_forces) ** 2).mean() if forces is not None and target_forces is not None else energy_mse.new_zeros(())
    dipole_mse = ((dipole - target_dipole) ** 2).mean() if dipole is not None and target_dipole is not None else energy_mse.new_zeros(())
    total = energy_weight * energy_mse + force_weight * force_mse.double() + dipole_weight * dipole_mse.double()
    return LossTerms(total, energy_mse, force_mse, dipole_mse)


def error_metrics(energy_errors: np.ndarray, n_atoms: np.ndarray, force_errors: np.ndarray | None,
                  dipole_errors: np.ndarray | None = None) -> dict:
    """MAE and RMSE of energy per atom (eV/atom), energy per structure (eV), force components (eV/Å)
    and dipole components (e·Å)."""
    per_atom = energy_errors / n_atoms
    metrics = {
        "n_structures": int(len(energy_errors)),
        "energy_mae": float(np.abs(per_atom).mean()),
        "energy_rmse": float(np.sqrt((per_atom ** 2).mean())),
        "energy_mae_per_structure": float(np.abs(energy_errors).mean()),
        "energy_rmse_per_structure": float(np.sqrt((energy_errors ** 2).mean())),
    }
    if force_errors is not None and force_errors.size:
        metrics["force_mae"] = float(np.abs(force_errors).mean())
        metrics["force_rmse"] = float(np.sqrt((force_errors ** 2).mean()))
    if dipole_errors is not None and dipole_errors.size:
        metrics["dipole_mae"] = float(np.abs(dipole_errors).mean())
        metrics["dipole_rmse"] = float(np.sqrt((dipole_errors ** 2).mean()))
    return metrics
