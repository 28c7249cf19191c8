"""``esml sisso``: interpretable formulas for a column of a CSV table, by SISSO or genetic programming;
``esml attribute``: a potential's energy split into its atoms' shares."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import typer

from esml.interpret.feature_space import DEFAULT_OPERATORS, FeatureSpaceError

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
    dimension: int = typer.Option(2, min=1, max=4, help="Largest descriptor dimension."),
    rung: int = typer.Option(2, min=0, max=3, help="Operator levels of the feature space."),
    n_sis: int = typer.Option(None, min=1, help="Features kept by each screening (default 1000 for 1D/2D "
                                                "regression, 200 for 3D, 40 for 4D, 50 for classification)."),
    operators: str = typer.Option(",".join(DEFAULT_OPERATORS), help="Operators of the feature space."),
    classify: bool = typer.Option(False, "--classify", help="The target holds classes: minimise domain overlap."),
    method: str = typer.Option("sisso", help="sisso, or gplearn (genetic programming; no --dimension)."),
    cv_repeats: int = typer.Option(10, min=0, help="Repeats of leave-10%-out cross-validation (0: none)."),
    seed: int = typer.Option(0, help="Seed of the cross-validation draws (and of gplearn)."),
    json_out: Path = typer.Option(None, "--json", help="Write the result here as JSON."),
    plot: Path = typer.Option(None, help="PNG of the target against the 1D/2D descriptor."),
) -> None:
    """Find a formula for TARGET from the FEATURES columns, with training and cross-validated error."""
    from esml.cli.report import console

    names = _split(features)
    primary, y, classes = read_samples(data, target, names, classify)
    if method == "gplearn":
        result = _run_genetic(primary, y, names, classify, cv_repeats, seed)
    elif method == "sisso":
        config = _sisso_config(dimension, rung, n_sis, _split(operators), classify, cv_repeats, seed)
        result = _run_sisso(primary, y, names, _split(units), config, classes, target, plot, console)
    else:
        raise FeatureSpaceError(f"unknown method {method!r}; use sisso or gplearn")
    result.update({"data": str(data), "target": target, "primary_features": names, "method": method})
    if json_out:
        json_out.write_text(json.dumps(result, indent=2))
    console.print(_summary(result), highlight=False)


def _sisso_config(dimension, rung, n_sis, operators, classify, cv_repeats, seed):
    from esml.interpret.sisso import SissoConfig

    default = 50 if classify else {1: 1000, 2: 1000, 3: 200, 4: 40}[dimension]
    return SissoConfig(dimension=dimension, n_sis=n_sis or default, rung=rung, operators=tuple(operators),
                       classify=classify, cv_repeats=cv_repeats, seed=seed)


def _run_sisso(primary, y, names, units, config, classes, target, plot, console) -> dict:
    from esml.interpret.feature_space import build_feature_space
    from esml.interpret.sisso import cross_validate, descriptor_values, fit_sisso

    space = build_feature_space(primary, names, units, config.rung, config.operators)
    console.print(f"feature space: {len(space):,} features (rung {config.rung})", highlight=False)
    descriptors = fit_sisso(space, y, config, log=lambda line: console.print(line, highlight=False))
    cv = cross_validate(space, y, primary, config) if config.cv_repeats else [None] * len(descriptors)
    rows = [_descriptor_json(d, e, config.classify) for d, e in zip(descriptors, cv)]
    if plot and len(descriptors[-1].features) <= 2:
        from esml.interpret.plots import plot_descriptor

        points = descriptor_values(space, descriptors[-1], primary)
        plot_descriptor(points, y, descriptors[-1].formulas, plot, config.classify, classes, target)
    return {**rows[-1], "descriptors": rows, "n_features": len(space), "n_samples": len(y),
            "classes": classes, "n_sis": config.n_sis, "rung": config.rung}


def _descriptor_json(descriptor, cv_error, classify: bool) -> dict:
    common = {"dimension": len(descriptor.features), "formula": descriptor.formula,
              "features": list(descriptor.formulas)}
    if classify:
        return {**common, "overlap_train": int(descriptor.score), "misclassified_cv": cv_error}
    return {**common, "coefficients": descriptor.coefficients.tolist(), "intercept": descriptor.intercept,
            "rmse_train": descriptor.score, "rmse_cv": cv_error}


def _run_genetic(primary, y, names, classify, cv_repeats, seed) -> dict:
    from esml.interpret.genetic import GeneticConfig, cross_validate_genetic, fit_genetic, rmse

    if classify:
        raise FeatureSpaceError("--classify works with --method sisso only")
    config = GeneticConfig(cv_repeats=cv_repeats, seed=seed)
    model = fit_genetic(primary, y, names, config)
    return {"formula": str(model._program), "coefficients": [], "rmse_train": rmse(model, primary, y),
            "rmse_cv": cross_validate_genetic(primary, y, names, config) if cv_repeats else None}


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

    from esml.cli.report import console
    from esml.interpret.attribution import plot_site_energies, site_energies
    from esml.potentials import load

    atoms = ase.io.read(structure, 0)
    energies, relative = site_energies(load(model), atoms)
    symbols = atoms.get_chemical_symbols()
    for k in np.argsort(relative):
        console.print(f"{symbols[k]}{k:<5} {relative[k]:+.4f} eV (site energy {energies[k]:.4f} eV)", highlight=False)
    console.print(f"total energy {energies.sum():.6f} eV", highlight=False)
    if plot:
        plot_site_energies(atoms, relative, plot)
    if json_out:
        json_out.write_text(json.dumps({"symbols": symbols, "site_energies_eV": energies.tolist(),
                                        "relative_to_reference_eV": relative.tolist(),
                                        "energy_eV": float(energies.sum())}, indent=1))
