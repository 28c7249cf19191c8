"""``esml fit-property``, ``esml predict``, ``esml learning-curve``: kernel models of molecular
properties on the stored QM7 / QM9 splits."""

from __future__ import annotations

import json
from pathlib import Path

import typer

from esml.cli.data import DB_OPTION

MODEL_HELP = "krr-fchl19 (default), krr-slatm, krr-bob or krr-cm: kernel ridge regression on that representation."


def _config(model: str, seed: int):
    from esml.properties.krr import KRRConfig
    from esml.properties.representations import NAMES, PropertyError

    name = model.removeprefix("krr-")
    if not model.startswith("krr-") or name not in NAMES:
        raise PropertyError(f"unknown model {model!r}; use one of {', '.join('krr-' + n for n in NAMES)}")
    return KRRConfig(representation=name, seed=seed)


def fit_property_command(
    dataset: str = typer.Option(..., help="qm9 or qm7 (import them first: `esml datasets import qm9`)."),
    target: str = typer.Option(..., help="qm9: U0, U, H, G, gap, homo, lumo, mu, alpha, zpve, cv; qm7: atomization."),
    model: str = typer.Option("krr-fchl19", help=MODEL_HELP),
    n_train: int = typer.Option(1000, min=5, help="Training molecules, from the stored train split."),
    n_test: int = typer.Option(None, min=1, help="Test molecules from the stored test split (default: all)."),
    seed: int = typer.Option(0, help="Seed of the shuffle of the splits and of cross-validation."),
    out: Path = typer.Option(None, help="Model file; default DATASET-TARGET-MODEL-N.npz."),
    db: str = DB_OPTION,
) -> None:
    """Fit a property model (hyperparameters by cross-validation), print its test MAE, save it."""
    from esml.cli.console import console
    from esml.data.store import open_store
    from esml.properties.krr import fit_krr, predict, save
    from esml.properties.targets import split_frames, values
    from esml.properties.targets import target as find_target

    config = _config(model, seed)
    chosen = find_target(dataset, target)
    store = open_store(db)
    train = split_frames(store, dataset, "train", n_train, seed)
    test = split_frames(store, dataset, "test", n_test, seed)
    fitted = fit_krr(train, values(train, chosen), chosen.extensive, config, log=console.print, also_for=test)
    fitted.target = {"dataset": dataset, "name": target, "key": chosen.key, "unit": chosen.unit, "factor": chosen.factor}
    predicted, _ = predict(fitted, test)
    mae = float(abs(predicted - values(test, chosen)).mean() * chosen.factor)
    out = out or Path(f"{dataset}-{target}-{model}-{n_train}.npz")
    save(fitted, out)
    console.print(f"cross-validated MAE {fitted.cv['best_mae'] * chosen.factor:.4g} {chosen.unit}; "
                  f"test MAE {mae:.4g} {chosen.unit} on {len(test)} molecules ({dataset} test split); model: {out}",
                  highlight=False)


def predict_command(
    model: Path = typer.Argument(..., help="Model file from `esml fit-property`."),
    structures: Path = typer.Argument(..., help="Molecules (any format ASE reads)."),
    output: Path = typer.Option(None, "--output", "-o", help="Write JSON here instead of printing a table."),
) -> None:
    """Predict the model's property for each molecule, with the posterior standard deviation."""
    from rich.table import Table

    from esml.cli.console import console
    from esml.properties.krr import load, predict
    from esml.structures import read_structures

    fitted = load(model)
    frames = read_structures(structures)
    mean, std = predict(fitted, frames, with_std=True)
    factor, unit, name = fitted.target["factor"], fitted.target["unit"], fitted.target["name"]
    rows = [{"index": i, "formula": atoms.get_chemical_formula(), name: m * factor, "std": s * factor, "unit": unit}
            for i, (atoms, m, s) in enumerate(zip(frames, mean, std))]
    if output is not None:
        from esml.atomic import write_text

        write_text(output, json.dumps(rows, indent=1) + "\n")
        return
    table = Table(title=f"{name} ({unit}) from {model.name}")
    for column in ("index", "formula", name, "± std"):
        table.add_column(column, justify="left" if column == "formula" else "right")
    for row in rows:
        table.add_row(str(row["index"]), row["formula"], f"{row[name]:.4f}", f"{row['std']:.4f}")
    console.print(table)


def learning_curve_command(
    dataset: str = typer.Option(..., help="qm9 or qm7."),
    target: str = typer.Option(..., help="qm9: U0, gap, mu, …; qm7: atomization."),
    model: str = typer.Option("krr-fchl19", help=MODEL_HELP),
    n_train: str = typer.Option("100,200,500,1000,2000,4000", help="Training-set sizes, comma-separated."),
    n_test: int = typer.Option(None, min=1, help="Test molecules from the stored test split (default: all)."),
    seed: int = typer.Option(0, help="Seed of the shuffle of the splits and of cross-validation."),
    json_out: Path = typer.Option(Path("learning_curve.json"), "--json", help="Output JSON; the plot goes next to it (.png)."),
    db: str = DB_OPTION,
) -> None:
    """Test MAE against N on the stored splits: {"points": [{"n_train", "mae", "unit", "seconds"}, …]} and a log-log plot."""
    from esml.atomic import check_writable
    from esml.cli.console import console
    from esml.data.store import open_store
    from esml.properties.learning_curve import learning_curve, plot_learning_curves
    from esml.properties.representations import PropertyError

    check_writable(json_out, "the learning curve", "learning_curve.json")
    try:
        sizes = sorted({int(size) for size in n_train.split(",")})
    except ValueError:
        raise PropertyError(f"--n-train {n_train!r} is not a comma-separated list of integers, e.g. 100,1000,4000") from None
    if sizes[0] < 5:
        raise PropertyError("every --n-train size must be at least 5 (cross-validation folds)")
    report = learning_curve(open_store(db), dataset, target, _config(model, seed), sizes, n_test, log=console.print)
    from esml.atomic import write_text

    write_text(json_out, json.dumps(report, indent=1) + "\n")
    plot_learning_curves([report], json_out.with_suffix(".png"))
    console.print(f"wrote {json_out} and {json_out.with_suffix('.png')}", highlight=False)
