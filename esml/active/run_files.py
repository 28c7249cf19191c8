"""The folder of an ``esml learn`` run: its state on disk and its record in the store.

    state.json        configuration, rounds (errors, decisions), oracle counts, status
    train.xyz         labeled training frames (extxyz; ``info`` says round, reason, score)
    validation.xyz    labeled validation frames
    pending.xyz       frames chosen for the oracle and not yet labeled (absent when none)
    walkers.xyz       each walker's atoms with momenta; trusted.xyz its restart point
    model.pt          the final potential (``esml md``, ``esml evaluate`` take it)
    report.json, report.html, learning_curve.png, reliability.png

Every file is written to a temporary name and renamed, so a kill leaves either the old or the new
version. Labeled frames also go to the store (``--db``, default ``store.sqlite`` in the folder) as
calculations whose ``properties`` carry the run, round, reason and score, gathered in a dataset
``learn:<folder name>`` with the training frames as 'train' and the validation frames as 'validation'.
Each round's model and the saved one are rows of the store's ``models`` table
(``learn:<folder name>/round-N``, ``…/final``): the calculations each was fitted on, and the round's
record of hyperparameters, validation errors and decisions (``esml models`` lists them).
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field, replace
from enum import StrEnum
from pathlib import Path

import ase.io
from ase import Atoms

from esml.active.walkers import Walker
from esml.atomic import write_frames, write_text
from esml.data.datasets import create_dataset, delete_dataset
from esml.data.model_records import record_model
from esml.data.readers import record_from_atoms
from esml.data.store import Store, StoreError, open_store
from esml.data.write import write_records
from esml.errors import EsmlError

STATE = "state.json"
FRAME_FILES = ("train", "validation", "pending")


class Status(StrEnum):
    """Where a run stands; written into state.json and report.json as its value."""

    RUNNING = "running"
    CONVERGED = "converged"  # the target was reached
    BUDGET = "budget"  # the oracle calls ran out first
    MAX_ROUNDS = "max_rounds"  # the rounds ran out first


@dataclass
class RunState:
    config: dict
    species: list[int]
    db: str = ""
    status: Status = Status.RUNNING
    walkers: list[Walker] = field(default_factory=list)
    train: list[Atoms] = field(default_factory=list)
    validation: list[Atoms] = field(default_factory=list)
    pending: list[Atoms] = field(default_factory=list)
    pending_reason: str = ""
    rounds: list[dict] = field(default_factory=list)
    oracle_calls: int = 0
    oracle_computed: int = 0
    wall_seconds: float = 0.0
    failures: list[dict] = field(default_factory=list)
    calculation_ids: dict[str, list[int]] = field(default_factory=lambda: {"train": [], "validation": []})
    validation_drawn_at: int | None = None  # training frames when the validation set was drawn
    saved_model: dict = field(default_factory=dict)  # cross-validated errors of the model saved at the end
    label_cache: str = ""  # the label cache the run was started with: a resumed run uses it again


def claim(run_dir: Path) -> None:
    """A new run needs a folder that holds no other run; one whose start the oracle could not
    label holds nothing to keep, so the corrected command may start there again."""
    if (run_dir / STATE).exists() and load_state(run_dir).train:
        raise EsmlError(f"{run_dir} already holds a run; add --resume to continue it, or choose another --out")
    run_dir.mkdir(parents=True, exist_ok=True)


def save_state(run_dir: Path, state: RunState) -> None:
    for name in FRAME_FILES:
        _write_frames(run_dir / f"{name}.xyz", getattr(state, name))
    _write_frames(run_dir / "walkers.xyz", [w.atoms for w in state.walkers])
    _write_frames(run_dir / "trusted.xyz", [w.trusted for w in state.walkers])
    scalars = {key: getattr(state, key) for key in (
        "config", "species", "db", "status", "pending_reason", "rounds", "oracle_calls", "oracle_computed",
        "wall_seconds", "failures", "calculation_ids", "validation_drawn_at", "saved_model",
        "label_cache")}
    scalars["walkers"] = [{"index": w.index, "temperature_K": w.temperature_K, "warm_fs": w.warm_fs,
                          "trusted_warm_fs": w.trusted_warm_fs} for w in state.walkers]
    write_text(run_dir / STATE, json.dumps(scalars, indent=1))


def load_record(run_dir: Path) -> dict:
    """state.json alone (configuration, counts, label cache): what a resumed run is set up from,
    without reading its frames."""
    path = run_dir / STATE
    if not path.exists():
        raise EsmlError(f"{run_dir} holds no run to resume; start one without --resume")
    return json.loads(path.read_text())


def load_state(run_dir: Path) -> RunState:
    data = load_record(run_dir)
    walkers_meta = data.pop("walkers")
    state = RunState(**data)
    state.status = Status(state.status)
    for name in FRAME_FILES:
        setattr(state, name, _read_frames(run_dir / f"{name}.xyz"))
    positions, trusted = _read_frames(run_dir / "walkers.xyz"), _read_frames(run_dir / "trusted.xyz")
    state.walkers = [Walker(m["index"], m["temperature_K"], a, t, m["warm_fs"], m["trusted_warm_fs"])
                     for m, a, t in zip(walkers_meta, positions, trusted)]
    return state


def open_run_store(state: RunState, run_dir: Path) -> Store:
    """The run's store (``--db``, or store.sqlite in the run folder), opened once per run: every
    opening checks the schema and makes a connection pool."""
    return open_store(state.db or str(run_dir / "store.sqlite"))


def record_in_store(store: Store, state: RunState, labeled: list[Atoms], run_dir: Path) -> None:
    """Add newly labeled frames to the store and rewrite the run's dataset to include them."""
    if not labeled:
        return
    records = []
    for atoms in labeled:
        record = record_from_atoms(atoms, code="esml", frame=None, units={})
        provenance = {key: value.item() if hasattr(value, "item") else value  # numpy scalars after a round trip through extxyz
                      for key, value in atoms.info.items() if key.startswith("learn_")}
        records.append(replace(record, properties={**record.properties, **provenance, "learn_run": run_dir.name}))
    ids = write_records(store, records).calculation_ids
    for atoms, calculation_id in zip(labeled, ids):
        split = "validation" if atoms.info["learn_reason"] == "validation" else "train"
        state.calculation_ids[split].append(calculation_id)
    _write_dataset(store, state, run_dir)


def retire_validation(store: Store, state: RunState, run_dir: Path) -> None:
    """The store's side of validation frames joining the training set: the run's dataset lists
    them as 'train' (their ``learn_reason`` stays 'validation': why they were labeled)."""
    state.calculation_ids["train"] += state.calculation_ids["validation"]
    state.calculation_ids["validation"] = []
    _write_dataset(store, state, run_dir)


def _write_dataset(store: Store, state: RunState, run_dir: Path) -> None:
    name = f"learn:{run_dir.name}"
    try:
        delete_dataset(store, name)
    except StoreError:
        pass  # the first labels of the run: no dataset yet
    train, validation = state.calculation_ids["train"], state.calculation_ids["validation"]
    create_dataset(store, name, train + validation, splits=["train"] * len(train) + ["validation"] * len(validation),
                   description=f"esml learn with oracle {state.config['oracle']}", definition=f"esml learn --out {run_dir}")


def record_round_model(store: Store, state: RunState, row: dict, kind: str, run_dir: Path) -> None:
    """The store's record of a round's model: the calculations it was fitted on (the first
    ``n_train`` training frames), its hyperparameters and validation errors, and the round's
    decisions (walker MD, frames over the threshold, labels sent)."""
    training = state.calculation_ids["train"][: row["n_train"]]
    record_model(store, f"learn:{run_dir.name}/round-{row['round']}", kind, training, row)


def record_saved_model(store: Store, state: RunState, record: dict, kind: str, run_dir: Path, path: Path) -> None:
    """The store's record of the model the run saved, fitted on every oracle call, with its file's digest."""
    training = state.calculation_ids["train"] + state.calculation_ids["validation"]
    record_model(store, f"learn:{run_dir.name}/final", kind, training, record, file=path)


def _write_frames(path: Path, frames: list[Atoms]) -> None:
    if not frames:
        path.unlink(missing_ok=True)
        return
    write_frames(path, frames, format="extxyz")


def _read_frames(path: Path) -> list[Atoms]:
    return ase.io.read(path, ":", format="extxyz") if path.exists() else []

