"""``esml sisso``: interpretable formulas for a column of a CSV table, by SISSO or genetic programming;
``esml attribute``: a potential's energy split into its atoms' shares."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import typer

from esml.interpret.feature_space import FeatureSpaceError
from esml.interpret.formulas import DEFAULT_SIS, DEFAULT_SIS_CLASSIFY, FormulaSearch

DEFAULTS = FormulaSearch()

MAX_CLASSES = 10


def _split(text: str | None) -> list[str] | None:
    return [part.strip() for part in text.split(",")] if text else None


def read_samples(path: Path, target: str, features: list[str], classify: bool):
    """Primary features (n, p), the target (values, or class indices) and the class names."""
    import pandas as pd

    from esml.cli.tables import read_table

    table = read_table(path, [target, *features])
    primary = table[features].apply(pd.to_numeric, errors="coerce").to_numpy(dtype=float)
    if not np.isfinite(primary).all():
        bad = [c for c in features if not np.isfinite(primary[:, features.index(c)]).all()]
        raise FeatureSpaceError(f"feature column(s) {', '.join(bad)} hold empty or non-numeric values")
    if not classify:
        y = pd.to_numeric(table[target], errors="coerce").to_numpy(dtype=float)
        if not np.isfinite(y).all():
            raise FeatureSpaceError(f"target column {target} holds empty or non-numeric values; "
                                    "for class labels add --classify")
        return primary, y, None
    names, y = np.unique(table[target].astype(str), return_inverse=True)
    if len(names) > MAX_CLASSES:
        raise FeatureSpaceError(f"target column {target} has {len(names)} distinct values; --classify needs "
                                "class labels (a column such as RS/ZB)")
    return primary, y, [str(n) for n in names]


def sisso_command(
    data: Path = typer.Argument(..., exists=True, dir_okay=False, help="CSV table, one sample per row."),
    target: str = typer.Option(..., help="Column to explain (class labels with --classify)."),
    features: str = typer.Option(..., help="Primary feature columns, comma-separated."),
    units: str = typer.Option(None, help="One unit per feature, comma-separated (e.g. eV,eV,Å); '+' and '-' "
                                         "join only like units. Default: all dimensionless."),
    dimension: int = typer.Option(DEFAULTS.dimension, min=1, max=4, help="Largest descriptor dimension."),
    rung: int = typer.Option(DEFAULTS.rung, min=0, max=3, help="Operator levels of the feature space."),
    n_sis: int = typer.Option(None, min=1, help="Features kept by each screening (default " + ", ".join(
        f"{n} for {d}D" for d, n in DEFAULT_SIS.items()) + f" regression, {DEFAULT_SIS_CLASSIFY} for classification)."),
    operators: str = typer.Option(",".join(DEFAULTS.operators), help="Operators of the feature space."),
    classify: bool = typer.Option(DEFAULTS.classify, "--classify", help="The target holds classes: minimise domain overlap."),
    method: str = typer.Option(DEFAULTS.method, help="sisso, or gplearn (genetic programming; no --dimension)."),
    cv_repeats: int = typer.Option(DEFAULTS.cv_repeats, min=0, help="Repeats of leave-10%-out cross-validation (0: none)."),
    seed: int = typer.Option(DEFAULTS.seed, help="Seed of the cross-validation draws (and of gplearn)."),
    json_out: Path = typer.Option(None, "--json", help="Write the result here as JSON."),
    plot: Path = typer.Option(None, help="PNG of the target against the 1D/2D descriptor."),
) -> None:
    """Find a formula for TARGET from the FEATURES columns, with training and cross-validated error."""
    from esml.atomic import check_outputs
    from esml.cli.console import console
    from esml.interpret.formulas import Samples, find_formula

    check_outputs((json_out, "the result", "formula.json"), (plot, "the plot", "formula.png"))
    search = FormulaSearch(method=method, dimension=dimension, rung=rung, n_sis=n_sis, operators=tuple(_split(operators)),
                           classify=classify, cv_repeats=cv_repeats, seed=seed).checked()
    names = _split(features)
    primary, y, classes = read_samples(data, target, names, classify)
    samples = Samples(primary, y, names, target, _split(units), classes)
    result = find_formula(search, samples, log=lambda line: console.print(line, highlight=False), plot=plot)
    result["data"] = str(data)
    if json_out:
        from esml.atomic import write_text

        write_text(json_out, json.dumps(result, indent=2))
    console.print(_summary(result), highlight=False)


def _summary(result: dict) -> str:
    if "overlap_train" in result:
        cv = result["misclassified_cv"]
        tail = f"; cross-validated misclassification {cv:.1%}" if cv is not None else ""
        return f"{result['formula']}\nsamples in overlap regions: {result['overlap_train']}{tail}"
    cv = result["rmse_cv"]
    tail = f", cross-validated RMSE {cv:.4g}" if cv is not None else ""
    return f"{result['target']} = {result['formula']}\ntraining RMSE {result['rmse_train']:.4g}{tail}"


def attribute_command(
    model: Path = typer.Argument(..., exists=True, dir_okay=False, help="A potential (model.pt)."),
    structure: Path = typer.Argument(..., exists=True, dir_okay=False, help="A structure file (first frame is used)."),
    plot: Path = typer.Option(None, help="PNG: each atom's energy relative to its element's reference."),
    json_out: Path = typer.Option(None, "--json", help="Write the site energies here as JSON."),
) -> None:
    """Split a potential's energy of STRUCTURE into its atoms' shares (eV), which sum to the energy."""
    import ase.io

    from esml.atomic import check_outputs
    from esml.cli.console import console
    from esml.potentials import load
    from esml.potentials.attribution import plot_site_energies, site_energies

    check_outputs((json_out, "the site energies", "sites.json"), (plot, "the plot", "sites.png"))
    atoms = ase.io.read(structure, 0)
    energies, relative = site_energies(load(model), atoms)
    symbols = atoms.get_chemical_symbols()
    for k in np.argsort(relative):
        console.print(f"{symbols[k]}{k:<5} {relative[k]:+.4f} eV (site energy {energies[k]:.4f} eV)", highlight=False)
    console.print(f"total energy {energies.sum():.6f} eV", highlight=False)
    if plot:
        plot_site_energies(atoms, relative, plot)
    if json_out:
        from esml.atomic import write_text

        write_text(json_out, json.dumps({"symbols": symbols, "site_energies_eV": energies.tolist(),
                                        "relative_to_reference_eV": relative.tolist(),
                                        "energy_eV": float(energies.sum())}, indent=1))
