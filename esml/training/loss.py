"""Losses and error metrics: pure functions of predictions and labels.

Energy terms are per atom (eV/atom) so that molecules of different sizes weigh alike;
force terms are per Cartesian component (eV/Å).
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np
import torch


class LossTerms(NamedTuple):
    total: torch.Tensor
    energy_mse: torch.Tensor  # (eV/atom)²
    force_mse: torch.Tensor  # (eV/Å)²


def loss_terms(energy: torch.Tensor, forces: torch.Tensor | None, target_energy: torch.Tensor,
               target_forces: torch.Tensor | None, n_atoms: torch.Tensor,
               energy_weight: float, force_weight: float) -> LossTerms:
    """energy (n_structures,) float64 eV; forces (n_atoms, 3) eV/Å."""
    energy_mse = (((energy - target_energy) / n_atoms) ** 2).mean()
    force_mse = ((forces - target_forces) ** 2).mean() if forces is not None and target_forces is not None else energy_mse.new_zeros(())
    return LossTerms(energy_weight * energy_mse + force_weight * force_mse.double(), energy_mse, force_mse)


def error_metrics(energy_errors: np.ndarray, n_atoms: np.ndarray, force_errors: np.ndarray | None) -> dict:
    """MAE and RMSE of energy per atom (eV/atom), energy per structure (eV) and force components (eV/Å)."""
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
    return metrics
