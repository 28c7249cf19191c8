"""Named datasets with stored train/validation/test splits, so a split is reproducible."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import sqlalchemy as sa

from esml.data.query import SPLITS, select
from esml.data.records import utc_now
from esml.data.schema import calculations, dataset_members, datasets
from esml.data.store import Store, StoreError

DEFAULT_FRACTIONS = (0.8, 0.1, 0.1)


@dataclass(frozen=True)
class DatasetSummary:
    name: str
    description: str
    definition: str
    sizes: dict[str, int]  # split -> members


def assign_splits(n: int, fractions: Sequence[float], seed: int) -> list[str]:
    """A seeded random split of n members into train/validation/test by the given fractions."""
    fractions = np.asarray(fractions, dtype=float)
    if fractions.shape != (3,) or np.any(fractions < 0) or not np.isclose(fractions.sum(), 1.0):
        raise StoreError(f"split fractions must be three non-negative numbers summing to 1, got {','.join(f'{f:g}' for f in fractions)}")
    order = np.random.default_rng(seed).permutation(n)
    bounds = np.round(np.cumsum(fractions)[:2] * n).astype(int)
    labels = np.empty(n, dtype=object)
    for split, part in zip(SPLITS, np.split(order, bounds)):
        labels[part] = split
    return list(labels)


def create_dataset(store: Store, name: str, calculation_ids: Sequence[int], *, description: str = "",
                   definition: str = "", fractions: Sequence[float] = DEFAULT_FRACTIONS, seed: int = 0,
                   splits: Sequence[str] | None = None) -> DatasetSummary:
    """Store a dataset of these calculations with a seeded split, or with the given ``splits``
    (one per calculation); the name must be new."""
    if splits is not None:
        if len(splits) != len(calculation_ids) or not set(splits) <= set(SPLITS):
            raise StoreError(f"give one split ({', '.join(SPLITS)}) per calculation")
        chosen: dict[int, str] = {}
        for calculation_id, split in zip(calculation_ids, splits):
            chosen.setdefault(calculation_id, split)  # a repeated calculation keeps its first split
        ids, splits = list(chosen), list(chosen.values())
    else:
        ids = list(dict.fromkeys(calculation_ids))
        splits = assign_splits(len(ids), fractions, seed)
    with store.engine.begin() as connection:
        if connection.execute(sa.select(datasets.c.id).where(datasets.c.name == name)).scalar() is not None:
            raise StoreError(f"dataset {name!r} already exists; choose another name or delete it first")
        row = {"name": name, "description": description, "definition": definition, "split_seed": seed,
               "split_fractions": dict(zip(SPLITS, map(float, fractions))), "created": utc_now()}
        dataset_id = connection.execute(sa.insert(datasets).returning(datasets.c.id), row).scalar_one()
        members = [{"dataset_id": dataset_id, "calculation_id": i, "split": s} for i, s in zip(ids, splits)]
        for start in range(0, len(members), 20000):
            connection.execute(sa.insert(dataset_members), members[start:start + 20000])
    return DatasetSummary(name, description, definition, {s: splits.count(s) for s in SPLITS})


def dataset_from_filter(store: Store, name: str, filter_text: str, **options) -> DatasetSummary:
    """A dataset of every calculation the OPTIMADE filter matches."""
    statement = select(filter_text).with_only_columns(calculations.c.id)
    with store.engine.connect() as connection:
        ids = list(connection.execute(statement).scalars())
    if not ids:
        raise StoreError(f"filter {filter_text!r} matches nothing; a dataset needs members")
    return create_dataset(store, name, ids, definition=filter_text, **options)


def list_datasets(store: Store) -> list[DatasetSummary]:
    sizes = sa.select(dataset_members.c.dataset_id, dataset_members.c.split, sa.func.count()).group_by(
        dataset_members.c.dataset_id, dataset_members.c.split)
    with store.engine.connect() as connection:
        counts: dict[int, dict[str, int]] = {}
        for dataset_id, split, n in connection.execute(sizes):
            counts.setdefault(dataset_id, {s: 0 for s in SPLITS})[split] = n
        rows = connection.execute(sa.select(datasets).order_by(datasets.c.name)).all()
    return [DatasetSummary(r.name, r.description, r.definition, counts.get(r.id, {s: 0 for s in SPLITS})) for r in rows]


def delete_dataset(store: Store, name: str) -> None:
    """Remove the dataset and its split (the calculations stay)."""
    with store.engine.begin() as connection:
        dataset_id = connection.execute(sa.select(datasets.c.id).where(datasets.c.name == name)).scalar()
        if dataset_id is None:
            raise StoreError(f"no dataset named {name!r}")
        connection.execute(sa.delete(dataset_members).where(dataset_members.c.dataset_id == dataset_id))
        connection.execute(sa.delete(datasets).where(datasets.c.id == dataset_id))
