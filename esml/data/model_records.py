"""Fitted models in the store: what each learned from, how it scored, where its weights are."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

import sqlalchemy as sa

from esml import __version__
from esml.data.ingest import file_sha256
from esml.data.records import utc_now
from esml.data.schema import models
from esml.data.store import Store


@dataclass(frozen=True)
class ModelRecord:
    name: str
    kind: str
    training_ids: list[int]
    record: dict
    file: str | None
    sha256: str | None
    created: datetime


def record_model(store: Store, name: str, kind: str, training_ids: Sequence[int], record: dict,
                 file: Path | None = None) -> None:
    """Store a model under ``name``, replacing an earlier one of that name (a resumed run refits
    the round it was killed in)."""
    row = {"name": name, "kind": kind, "training_ids": [int(i) for i in training_ids], "record": record,
           "file": str(file.resolve()) if file else None, "sha256": file_sha256(file) if file else None,
           "esml_version": __version__, "created": utc_now()}
    with store.engine.begin() as connection:
        connection.execute(sa.delete(models).where(models.c.name == name))
        connection.execute(sa.insert(models), row)


def model_records(store: Store, prefix: str = "") -> list[ModelRecord]:
    """Stored models whose name starts with ``prefix``, oldest first."""
    statement = sa.select(models.c.name, models.c.kind, models.c.training_ids, models.c.record, models.c.file,
                          models.c.sha256, models.c.created).where(models.c.name.startswith(prefix, autoescape=True))
    with store.engine.connect() as connection:
        return [ModelRecord(*row) for row in connection.execute(statement.order_by(models.c.id))]
