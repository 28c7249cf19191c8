"""Spectra against experiment, and their plot.

An experiment file is JSON: ``{"fundamentals_cm1": [...], "source": "..."}`` with one value per
vibrational mode in ascending order of the computed modes, ``null`` where a band is not known.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from esml.atomic import write_atomically
from esml.errors import EsmlError


def read_experiment(path: Path, n_modes: int) -> np.ndarray:
    """(n_modes,) cm⁻¹, NaN where the file gives null."""
    try:
        values = json.loads(Path(path).read_text())["fundamentals_cm1"]
        fundamentals = np.array([np.nan if v is None else float(v) for v in values])
    except FileNotFoundError:
        raise EsmlError(f"{path}: no such file; give a JSON file with the measured fundamentals") from None
    except (json.JSONDecodeError, KeyError, TypeError, ValueError):
        raise EsmlError(f'{path}: not an experiment file; write {{"fundamentals_cm1": [...], "source": "..."}}, one value '
                        "per mode in ascending order, null where unknown") from None
    if len(fundamentals) != n_modes:
        raise EsmlError(f"{path} lists {len(fundamentals)} fundamentals but the molecule has {n_modes} vibrational modes; "
                        "give one per mode in ascending order, null where unknown")
    return fundamentals


def deviations(computed: np.ndarray, experiment: np.ndarray) -> dict:
    """MAE, largest error and the shares within 10 and 20 cm⁻¹ over the modes measured."""
    known = ~np.isnan(experiment)
    errors = np.abs(computed[known] - experiment[known])
    return {"n_fundamentals": int(known.sum()), "mae_cm1": float(errors.mean()), "max_error_cm1": float(errors.max()),
            "fraction_within_10_cm": float((errors <= 10).mean()), "fraction_within_20_cm": float((errors <= 20).mean())}


def plot_spectrum(path: Path, title: str, grid: np.ndarray, curve: np.ndarray, curve_label: str,
                  sticks: tuple[np.ndarray, np.ndarray] | None = None, experiment: np.ndarray | None = None) -> None:
    """A broadened spectrum, its sticks (positions, heights) on a second axis, and measured band
    positions as dashed lines."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    figure, axis = plt.subplots(figsize=(9, 4.5))
    axis.plot(grid, curve, color="C0", label=curve_label)
    axis.set_xlabel("wavenumber (cm⁻¹)")
    axis.set_ylabel(curve_label)
    if sticks is not None:
        twin = axis.twinx()
        twin.vlines(sticks[0], 0, sticks[1], color="C1", label="bands (km/mol)")
        twin.set_ylabel("intensity (km/mol)")
        twin.set_ylim(bottom=0)
    if experiment is not None:
        for k, value in enumerate(experiment[~np.isnan(experiment)]):
            axis.axvline(value, color="black", linestyle="--", linewidth=0.8, label="experiment" if k == 0 else None)
    axis.set_xlim(grid[0], grid[-1])
    axis.set_ylim(bottom=0)
    axis.legend(loc="upper left")
    axis.set_title(title)
    figure.tight_layout()
    write_atomically(Path(path), lambda temporary: figure.savefig(temporary, dpi=120, format="png"))
    plt.close(figure)
