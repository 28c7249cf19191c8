"""From labeled frames to a saved potential: one model, or an ensemble trained in parallel processes."""

from __future__ import annotations

import multiprocessing
import os
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor
from dataclasses import asdict, dataclass, replace
from pathlib import Path

import torch

from esml.errors import EsmlError
from esml.potential import Potential
from esml.potentials.dipole import DipolePotential
from esml.potentials.ensemble import ensemble_of
from esml.potentials.files import FAMILIES, load, save
from esml.training.config import TrainConfig
from esml.training.data import GraphSet, Splits, check_labels, compositions, force_scale, reference_energies
from esml.training.loop import EpochLog, evaluate_set, fit


@dataclass(frozen=True)
class TrainResult:
    path: Path
    epochs: int
    valid: dict  # error metrics on the validation frames
    test: dict | None  # on the test frames, if there were any


#: The output scale of a fresh charge network (e): the size of typical partial charges in organic molecules.
CHARGE_SCALE = 0.2


def new_potential(kind: str, splits: Splits, options: dict, seed: int, references: dict[int, float] | None = None,
                  dipoles: bool = False) -> Potential:
    """A fresh model whose output scale comes from the training frames, and its per-element
    reference energies from them too, unless isolated-atom ``references`` (eV by atomic number) are given;
    with ``dipoles``, a second network of the family gives atomic charges (:class:`DipolePotential`)."""
    species = sorted({int(z) for atoms in splits.train + splits.valid + splits.test for z in atoms.numbers})
    self_energies = reference_energies(splits.train, species, references)
    family = FAMILIES[kind]
    options = {**options, **family.settings_from_data(splits.train, options)}
    torch.manual_seed(seed)
    potential = family(species, **options, self_energies=self_energies.tolist(),
                       energy_scale=force_scale(splits.train, self_energies, species))
    return DipolePotential(potential, family(species, **options, energy_scale=CHARGE_SCALE)) if dipoles else potential


def checkpoint_of(out: Path) -> Path:
    """Where the training of the model ``out`` keeps its checkpoint."""
    return out.with_name(out.name + ".ckpt")


def member_files(out: Path, members: int) -> list[Path]:
    """The files of an ensemble's members while they train (removed once ``out`` holds them all)."""
    return [out.with_name(f"{out.stem}.member{k}{out.suffix}") for k in range(members)]


def check_resumable(out: Path, members: int = 1) -> None:
    """Refuse ``--resume`` where no training of ``out`` was interrupted: it would silently start afresh."""
    checkpoints = [checkpoint_of(path) for path in (member_files(out, members) if members > 1 else [out])]
    if not any(path.exists() for path in checkpoints):
        raise EsmlError(f"{checkpoints[0]}: no checkpoint to resume from; run the same command without --resume to start")


def train_potential(
    kind: str,
    splits: Splits,
    out: Path,
    config: TrainConfig,
    options: dict | None = None,
    on_epoch: Callable[[EpochLog], None] | None = None,
    resume: bool = False,
    initial: Potential | None = None,
    references: dict[int, float] | None = None,
) -> TrainResult:
    """Train one model and save it to ``out``; the checkpoint ``out.ckpt`` lets ``resume`` continue.

    ``initial`` warm-starts from an existing model of the same family (active learning);
    ``references`` are isolated-atom energies (eV by atomic number).
    """
    use_forces = config.force_weight > 0
    check_labels(splits.train + splits.valid + splits.test, use_forces, dipoles=config.dipole_weight > 0)
    out.parent.mkdir(parents=True, exist_ok=True)
    potential = initial if initial is not None else new_potential(kind, splits, options or {}, config.seed, references,
                                                                  dipoles=config.dipole_weight > 0)
    dtype = torch.float64 if config.float64 else torch.float32
    potential.to(dtype).requires_grad_(True)  # the reference energies stay float64 (Potential._apply)
    checkpoint = checkpoint_of(out)
    if resume:
        check_resumable(out)
    if checkpoint.exists() and not resume:
        checkpoint.unlink()  # a fresh run never continues from someone else's state
    train = GraphSet(splits.train, potential.cutoff, forces=use_forces, dtype=dtype)
    valid = GraphSet(splits.valid or splits.train, potential.cutoff, forces=use_forces, dtype=dtype)
    history = fit(potential, train, valid, config, checkpoint, on_epoch)
    valid_metrics = evaluate_set(potential, valid, forces=use_forces)
    test_metrics = evaluate_set(potential, GraphSet(splits.test, potential.cutoff, use_forces, dtype), forces=use_forces) if splits.test else None
    save(potential, out, {"train_config": asdict(config), "n_train": len(splits.train), "n_valid": len(splits.valid),
                          "training_compositions": compositions(splits.train),
                          "history": [asdict(h) for h in history], "valid": valid_metrics, "test": test_metrics})
    return TrainResult(out, len(history), valid_metrics, test_metrics)


def _train_member(arguments) -> TrainResult:
    kind, splits, out, config, options, resume, threads, references = arguments
    torch.set_num_threads(threads)
    return train_potential(kind, splits, out, config, options, resume=resume, references=references)


def train_ensemble(
    kind: str,
    splits: Splits,
    out: Path,
    config: TrainConfig,
    members: int,
    options: dict | None = None,
    workers: int | None = None,
    resume: bool = False,
    on_member: Callable[[int, TrainResult], None] | None = None,
    references: dict[int, float] | None = None,
) -> TrainResult:
    """Train ``members`` models (seeds seed, seed+1, ...) in parallel processes and save them as one ensemble."""
    workers = max(1, min(members, workers or os.cpu_count() or 1))
    threads = max(1, (os.cpu_count() or 1) // workers)
    member_paths = member_files(out, members)
    jobs = [(kind, splits, path, replace(config, seed=config.seed + k), options, resume, threads, references)
            for k, path in enumerate(member_paths)]
    # spawn, not fork: a forked process that inherits torch's thread pools can hang
    with ProcessPoolExecutor(workers, mp_context=multiprocessing.get_context("spawn")) as pool:
        for k, result in enumerate(pool.map(_train_member, jobs)):
            if on_member:
                on_member(k, result)
    ensemble = ensemble_of([load(path) for path in member_paths])
    use_forces = config.force_weight > 0
    valid_metrics = evaluate_set(ensemble, GraphSet(splits.valid or splits.train, ensemble.cutoff, forces=use_forces), forces=use_forces)
    test_metrics = evaluate_set(ensemble, GraphSet(splits.test, ensemble.cutoff, use_forces), forces=use_forces) if splits.test else None
    save(ensemble, out, {"train_config": asdict(config), "members": members, "n_train": len(splits.train),
                         "n_valid": len(splits.valid), "training_compositions": compositions(splits.train),
                         "valid": valid_metrics, "test": test_metrics})
    for path in member_paths:
        path.unlink()
        checkpoint_of(path).unlink(missing_ok=True)
    return TrainResult(out, 0, valid_metrics, test_metrics)
