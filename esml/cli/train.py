"""``esml train``: a potential from labeled frames (file or store dataset)."""

from __future__ import annotations

import inspect
import json
from pathlib import Path

import typer

from esml.errors import EsmlError
from esml.training.config import FAMILY_RECIPES, TrainConfig

MODEL_ALIASES = {"ani": "ani", "painn": "painn", "equivariant": "painn", "mace": "mace", "cgcnn": "cgcnn"}


def train_command(
    model: str = typer.Option("ani", "--model", help="ani (ANI-style HDNNP), equivariant (PaiNN), mace (many-body equivariant, the most accurate) or cgcnn (crystal graph)."),
    data: Path = typer.Option(None, "--data", help="Labeled frames (extxyz with energy and forces, or a revised-MD17 npz); info['split'] = train/valid/test is honoured."),
    db: str = typer.Option(None, "--db", help="Store to read --dataset from (SQLite path or PostgreSQL URL)."),
    dataset: str = typer.Option(None, "--dataset", help="A store dataset with stored train/valid/test splits."),
    out: Path = typer.Option(Path("model.pt"), "--out", "-o", help="Where the model goes; OUT.ckpt is the checkpoint."),
    ensemble: int = typer.Option(1, "--ensemble", min=1, help="Members trained in parallel processes (seeds seed, seed+1, ...)."),
    epochs: int = typer.Option(TrainConfig.max_epochs, "--epochs", min=1, help="Most passes over the training frames."),
    batch_size: int = typer.Option(None, "--batch-size", min=1, help=f"Structures per step; default {TrainConfig.batch_size} ({FAMILY_RECIPES['mace']['batch_size']} for mace)."),
    learning_rate: float = typer.Option(None, "--lr", help="Initial AdamW step; default 1e-3 (ani), 5e-4 (equivariant), 5e-3 (mace)."),
    ema: float = typer.Option(None, "--ema", help=f"Decay of the moving average of the weights that is validated and saved; default off ({FAMILY_RECIPES['mace']['ema_decay']} for mace); 0 turns it off."),
    stage_two: float = typer.Option(None, "--stage-two", help=f"Share of the epochs or time budget after which the energy weight rises (MACE's second stage); default off ({FAMILY_RECIPES['mace']['stage_two']} for mace); 0 turns it off."),
    stage_two_energy_weight: float = typer.Option(TrainConfig.stage_two_energy_weight, "--stage-two-energy-weight", help="Energy weight of the second stage."),
    float64: bool = typer.Option(TrainConfig.float64, "--float64", help="Train in double precision."),
    reference_energies: Path = typer.Option(None, "--reference-energies", help="Isolated-atom energies (a structure file of one-atom frames) as the per-element references, instead of a fit to the training energies."),
    energy_weight: float = typer.Option(TrainConfig.energy_weight, help="Weight of the energy-per-atom MSE."),
    force_weight: float = typer.Option(TrainConfig.force_weight, help="Weight of the force MSE; 0 trains on energies only."),
    dipole_weight: float = typer.Option(TrainConfig.dipole_weight, "--dipole-weight", help="Weight of the dipole MSE, (e·Å)⁻²; above 0 a charge network learns the frames' dipoles beside the energy (for IR spectra)."),
    patience: int = typer.Option(TrainConfig.patience, help="Stop after this many epochs without a better validation loss."),
    lr_patience: int = typer.Option(TrainConfig.lr_patience, "--lr-patience", min=1, help="Halve the learning rate after this many epochs without improvement."),
    valid_fraction: float = typer.Option(0.05, min=0.0, max=0.9, help="Share of training frames held out for validation when the data has no 'valid' split."),
    max_minutes: float = typer.Option(None, min=0.0, help="Wall-clock budget; the best model so far is kept."),
    seed: int = typer.Option(TrainConfig.seed),
    option: list[str] = typer.Option([], "--option", help="Model setting KEY=VALUE, e.g. features=64 layers=2 (equivariant) or hidden='{\"1\": [64, 32]}' (ani)."),
    threads: int = typer.Option(None, min=1, help="Torch threads (default: all cores)."),
    resume: bool = typer.Option(False, "--resume", help="Continue from OUT.ckpt after an interruption."),
    quiet: bool = typer.Option(False, "--quiet", "-q"),
) -> None:
    """Train an ANI-style or equivariant potential on energies and forces."""
    import torch

    from esml.atomic import check_writable
    from esml.cli.console import console, live_progress
    from esml.potentials.files import FAMILIES
    from esml.training.config import family_config
    from esml.training.data import isolated_atom_energies
    from esml.training.run import check_resumable, train_ensemble, train_potential

    kind = MODEL_ALIASES.get(model.lower())
    if kind is None:
        raise EsmlError(f"unknown model {model!r}; use one of {', '.join(MODEL_ALIASES)}")
    options = parse_options(option, FAMILIES[kind])
    config = family_config(
        kind, energy_weight=energy_weight, force_weight=force_weight, learning_rate=learning_rate, batch_size=batch_size,
        max_epochs=epochs, patience=patience, lr_patience=lr_patience, max_minutes=max_minutes, seed=seed, ema_decay=ema,
        stage_two=stage_two, stage_two_energy_weight=stage_two_energy_weight, float64=float64, dipole_weight=dipole_weight)
    references = None if reference_energies is None else isolated_atom_energies(reference_energies)
    check_writable(out, "the model", "model.pt")
    if resume:
        check_resumable(out, ensemble)
    splits = load_splits(data, db, dataset, valid_fraction, seed, forces=config.force_weight > 0, dipoles=config.dipole_weight > 0)
    if threads:
        torch.set_num_threads(threads)
    if not quiet:
        console.print(f"{kind}: {len(splits.train)} training, {len(splits.valid)} validation, {len(splits.test)} test frames", highlight=False)
    if ensemble > 1:
        result = train_ensemble(kind, splits, out, config, ensemble, options, resume=resume, references=references,
                                on_member=None if quiet else lambda k, r: console.print(member_line(k, r), highlight=False))
    else:
        with live_progress(epochs, "training", quiet) as show:
            result = train_potential(kind, splits, out, config, options, resume=resume, references=references,
                                     on_epoch=lambda log: show(log.epoch, describe_epoch(log)))
    if dataset is not None:
        record_trained_model(db, dataset, out, "ensemble" if ensemble > 1 else kind, splits, result)
    if not quiet:
        console.print(errors_table([("validation", result.valid), ("test", result.test)], "Errors of the trained model"))
        console.print(f"wrote {out}", highlight=False)


def record_trained_model(db, dataset: str, out: Path, kind: str, splits, result) -> None:
    """A model trained from a store dataset goes back into that store, with the calculations it
    was fitted on (training and validation frames) and its errors."""
    from esml.data import open_store
    from esml.data.model_records import record_model

    fitted_on = [int(atoms.info["esml_id"]) for atoms in splits.train + splits.valid]
    name = "train:" + str(out.resolve())[-194:]  # the file the weights are in names the model (200 characters at most)
    record_model(open_store(db), name, kind, fitted_on, {"dataset": dataset, "valid": result.valid, "test": result.test},
                 file=out)


def load_splits(data, db, dataset, valid_fraction: float, seed: int, forces: bool = True, dipoles: bool = False):
    """The frames by split; frames without the labels training needs are refused before anything else."""
    from esml.structures import read_structures
    from esml.training.data import SPLITS, carve_validation, check_labels, split_frames, store_splits

    if (data is None) == (dataset is None):
        raise EsmlError("give either --data FILE or --dataset NAME (with --db for a store other than the default)")
    if data is not None:
        frames = read_structures(data)
        check_labels(frames, forces, str(data), dipoles)
        return split_frames(frames, valid_fraction, seed)
    by_split = store_splits(db, dataset)
    check_labels([atoms for split in SPLITS for atoms in by_split[split]], forces, f"dataset {dataset!r}", dipoles)
    return carve_validation(by_split, valid_fraction, seed)


def parse_options(pairs: list[str], family) -> dict:
    """KEY=VALUE pairs (VALUE as JSON, else text) checked against the family's constructor."""
    allowed = set(inspect.signature(family.__init__).parameters) - {"self", "species", "self_energies", "energy_scale"}
    options = {}
    for pair in pairs:
        key, separator, value = pair.partition("=")
        if not separator or key not in allowed:
            raise EsmlError(f"model option {pair!r} is not KEY=VALUE with KEY one of {', '.join(sorted(allowed))}")
        try:
            options[key] = json.loads(value)
        except json.JSONDecodeError:
            options[key] = value
    try:  # a size the family cannot be built with is refused now, not after the data are read
        family([1], **options)
    except (TypeError, ValueError, RuntimeError, AttributeError, KeyError) as error:
        raise EsmlError(f"model options {' '.join(pairs)} rejected ({str(error).splitlines()[0]}); sizes and cutoffs are "
                        """positive numbers, and structured values JSON, e.g. features=64 or hidden='{"1": [64, 32]}'""") from None
    return options


def member_line(index: int, result) -> str:
    force = result.valid.get("force_mae")
    return f"member {index}: validation energy MAE {1000 * result.valid['energy_mae']:.2f} meV/atom" + (
        f", force MAE {1000 * force:.1f} meV/Å" if force is not None else "")


def describe_epoch(log) -> str:
    force = "" if log.valid_force_mae is None else f" F {1000 * log.valid_force_mae:.1f} meV/Å"
    return f"loss {log.train_loss:.4g} | valid E {1000 * log.valid_energy_mae:.2f} meV/atom{force} | lr {log.learning_rate:.1e}"


def errors_table(rows: list[tuple[str, dict | None]], title: str):
    """One row per (name, error metrics); rows without metrics are left out."""
    from rich.table import Table

    keys = ("energy_mae", "energy_rmse", "energy_mae_per_structure", "force_mae", "force_rmse", "dipole_mae")
    columns = ("E MAE meV/atom", "E RMSE meV/atom", "E MAE meV/structure", "F MAE meV/Å", "F RMSE meV/Å", "μ MAE me·Å")
    shown = [k for k, key in enumerate(keys) if key != "dipole_mae" or any(m and key in m for _, m in rows)]
    table = Table(title=title)
    for column in ("set", "frames", *(columns[k] for k in shown)):
        table.add_column(column, justify="left" if column == "set" else "right")
    for name, metrics in rows:
        if metrics:
            cells = [f"{1000 * metrics[keys[k]]:.2f}" if keys[k] in metrics else "-" for k in shown]
            table.add_row(name, str(metrics["n_structures"]), *cells)
    return table
