"""``esml xc``: train a learned exchange–correlation functional and evaluate it self-consistently
beside PBE and B3LYP (``esml.functionals``). kcal/mol in reports; Hartree inside."""

from __future__ import annotations

import json
from dataclasses import asdict, replace
from pathlib import Path

import typer

app = typer.Typer(help="Learned exchange–correlation functionals: train, evaluate.", no_args_is_help=True)
SETS = ("heldout", "train", "all")


@app.command("train")
def train_command(
    out: Path = typer.Option(..., "--out", "-o", help="Where to write the functional (.pt)."),
    rounds: int = typer.Option(1, min=1, help="Density refreshes: round 1 on PBE0 densities, later rounds on the model's own."),
    iterations: int = typer.Option(300, min=1, help="L-BFGS iterations per round (at most)."),
    exact_weight: float = typer.Option(0.05, min=0.0, help="Weight of the atoms' total-energy errors."),
    delocalisation_weight: float = typer.Option(
        0.25, min=0.0, help="Weight of stretched H2+'s energy errors: more exact exchange, less delocalisation error, "
                            "worse atomisation energies."),
    basis: str = typer.Option("def2-tzvp", help="Basis of the training densities (evaluate in the same one)."),
    exact_exchange: bool = typer.Option(True, help="Learn a fraction of exact exchange (a hybrid) or not."),
    range_separation: float = typer.Option(
        0.0, min=0.0, help="ω (1/bohr): exact exchange in full beyond ~1/ω, the learned fraction only at short range "
                           "(0: a global hybrid)."),
    cache: Path = typer.Option(Path(".esml-xc-cache"), help="Densities are kept here; a rerun reuses them."),
    seed: int = typer.Option(0),
    quiet: bool = typer.Option(False, "--quiet"),
) -> None:
    """Fit the functional to the CCSD(T)/CBS atomisation energies of the training molecules."""
    from esml.atomic import check_writable
    from esml.cli.console import console, live_progress
    from esml.functionals.fitting import FitConfig, fit, training_species
    from esml.functionals.fixed_density import TrainConfig
    from esml.functionals.model import XCConfig, save
    from esml.functionals.training_set import split, with_references

    config = FitConfig(basis=basis, rounds=rounds, seed=seed, model=replace(XCConfig(), exact_exchange=exact_exchange,
                                                                   range_separation=range_separation),
                       training=TrainConfig(iterations=iterations, exact_weight=exact_weight,
                                           delocalisation_weight=delocalisation_weight))
    check_writable(out, "the functional", "functional.pt")
    molecules = with_references(split()["train"])
    species = len(training_species(molecules))
    console.print(f"{len(molecules)} training molecules (of {len(split()['train'])} with references), {species} species; "
                  f"{rounds} rounds in {basis}", highlight=False)
    with live_progress(rounds * species, "densities", quiet) as show:
        done = []
        model, record = fit(config, cache, on_species=lambda name: (done.append(name), show(len(done), f"density {name}")),
                            on_iteration=lambda round_, iteration, loss: show(len(done), f"round {round_}: loss {loss:.2f}"))
    save(model, out, {"fit": asdict(config), "training": record})
    console.print(f"wrote {out}: exact exchange {float(model.exact_exchange_fraction.detach()):.3f}, "
                  f"final loss {record['rounds'][-1]['final_loss']:.3f} (kcal/mol)²", highlight=False)


@app.command("evaluate")
def evaluate_command(
    model_path: str = typer.Argument(..., metavar="MODEL", help="A file from `esml xc train`."),
    molecule_set: str = typer.Option("heldout", "--set", help="heldout, train or all (G2 molecules, CCSD(T)/CBS references)."),
    basis: str = typer.Option("def2-tzvp"),
    baselines: str = typer.Option("pbe,b3lyp", help="libxc functionals computed beside it ('' for none)."),
    json_out: Path = typer.Option(None, "--json", help="Write the scores (mae_atomization_kcal per functional, ...) here."),
    plot: Path = typer.Option(None, help="Atomisation-energy and ionisation-potential errors per species (PNG)."),
    quiet: bool = typer.Option(False, "--quiet"),
) -> None:
    """Self-consistent atomisation, reaction, ionisation and one-electron errors of MODEL and of the baselines."""
    from esml.cli.console import console, live_progress
    from esml.errors import EsmlError
    from esml.functionals.evaluation import evaluate, species_needed
    from esml.functionals.model import load
    from esml.functionals.shipped import SHIPPED
    from esml.functionals.training_set import split, with_references

    if molecule_set not in SETS:
        raise EsmlError(f"--set {molecule_set!r}: use one of {', '.join(SETS)}")
    model, _ = load(SHIPPED.get(model_path, Path(model_path)))
    molecules = with_references(split()["train"] + split()["heldout"] if molecule_set == "all" else split()[molecule_set])
    chosen = [name for name in baselines.split(",") if name]
    total = (1 + len(chosen)) * len(species_needed(molecules))
    with live_progress(total, "SCF", quiet) as show:
        done = []
        report = evaluate(model, molecules, basis, chosen,
                          on_species=lambda functional, name: (done.append(name), show(len(done), f"{functional}: {name}")))
    report |= {"model": model_path, "set": molecule_set}
    console.print(_table(report))
    if json_out:
        from esml.atomic import write_text

        write_text(json_out, json.dumps(report, indent=1) + "\n")
    if plot:
        from esml.functionals.plots import plot_evaluation

        plot_evaluation(report, plot)


def _table(report: dict):
    from rich.table import Table

    table = Table(title=f"{len(report['molecules'])} {report['set']} molecules, {report['basis']}, self-consistent (kcal/mol)")
    columns = {"atomisation MAE": "mae_atomization_kcal", "max |error|": "max_abs_atomization_kcal",
               "MAE vs expt": "mae_vs_experiment_kcal", "reaction MAE": "mae_reaction_kcal",
               "H2+ 5 Å": "H2+@5_error_kcal", "H atom": "H_error_kcal", "IP MAE (eV)": "mae_ionization_ev",
               "SCF converged": "scf_converged_fraction",
               "SCF s": "scf_seconds"}
    table.add_column("functional")
    for column in columns:
        table.add_column(column, justify="right")
    for name, scores in report["functionals"].items():
        table.add_row(name, *("–" if scores[key] is None else f"{scores[key]:.2f}" for key in columns.values()))
    return table
