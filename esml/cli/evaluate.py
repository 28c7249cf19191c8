"""``esml evaluate``: a model's errors on labeled frames, with a parity plot; for a model with an
uncertainty, the share of force errors inside its (calibrated) ±1σ and ±2σ and a reliability panel."""

from __future__ import annotations

import json
import warnings
from pathlib import Path

import typer


def evaluate_command(
    model: Path = typer.Argument(..., help="Model file from `esml train`."),
    data: Path = typer.Argument(..., help="Labeled frames (extxyz with energy, and forces for force errors)."),
    split: str = typer.Option(None, help="Use only frames whose info['split'] is this (e.g. test)."),
    json_out: Path = typer.Option(None, "--json", help="Write the metrics as JSON: energy_mae (eV/atom), force_mae (eV/Å), ..."),
    plot: Path = typer.Option(None, "--plot", help="Parity plot PNG (none unless asked)."),
) -> None:
    """Energy and force MAE/RMSE (per atom and per structure) of MODEL against the labels in DATA.
    An ensemble or GP model also gets the share of force-component errors inside ±1σ and ±2σ, with
    the σ scale calibrated by `esml learn` when the model file has one (raw σ otherwise)."""
    from esml.atomic import check_outputs, write_text
    from esml.cli.console import console
    from esml.cli.train import errors_table
    from esml.errors import EsmlError, EsmlWarning
    from esml.potentials.files import load_with_metadata
    from esml.structures import read_structures
    from esml.training.data import compositions_outside
    from esml.training.evaluate import evaluate_frames, parity_plot

    check_outputs((json_out, "the metrics", "metrics.json"), (plot, "the plot", "parity.png"))
    potential, saved = load_with_metadata(model)
    frames = read_structures(data)
    if split is not None:
        frames = [atoms for atoms in frames if atoms.info.get("split") == split]
        if not frames:
            raise EsmlError(f"{data}: no frame has split {split!r}; leave out --split or pick another")
    outside = compositions_outside(saved["training_compositions"], frames) if saved.get("training_compositions") else []
    if outside:
        warnings.warn(EsmlWarning(
            f"{', '.join(outside[:5])}: composition(s) whose per-element reference energies the training data "
            f"({', '.join(saved['training_compositions'][:5])}) does not determine; their energy errors include an "
            "unknown offset (energy_mae_offset_free and the force errors do not)"), stacklevel=1)
    calibration_scale = saved.get("calibration_scale")
    result = evaluate_frames(potential, frames, sigma_scale=calibration_scale)
    metrics = result.metrics()
    metrics.update(model=str(model), data=str(data), split=split)
    console.print(errors_table([(split or "all", metrics)], f"{model.name} on {data.name}"))
    if "force_coverage_1sigma" in metrics:
        source = "calibrated by esml learn" if calibration_scale else "raw: the model file holds no calibration"
        console.print(f"force errors inside ±1σ: {100 * metrics['force_coverage_1sigma']:.1f} % (Gaussian 68.3 %), "
                      f"inside ±2σ: {100 * metrics['force_coverage_2sigma']:.1f} % (95.4 %); σ × {metrics['sigma_scale']:.3g}, "
                      f"{source}", highlight=False)
    if plot:
        parity_plot(result, metrics, plot, f"{model.name} on {data.name}")
        console.print(f"parity plot: {plot}", highlight=False)
    if json_out:
        write_text(json_out, json.dumps(metrics, indent=2))
