"""Reading entries back: an OPTIMADE filter (and optionally a dataset split) in, ASE Atoms out.

Each returned frame carries its results as a SinglePointCalculator and its metadata in ``info``:
esml_id, esml_code, esml_method, esml_basis, …, charge, multiplicity, esml_source, and the
calculation's other scalar properties by name.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence

import sqlalchemy as sa
from ase import Atoms
from ase.calculators.singlepoint import SinglePointCalculator

from esml.data.filter import entries_query, parse_filter
from esml.data.records import array_from_blob, atoms_from_row
from esml.data.schema import calculations, dataset_members, datasets
from esml.data.store import Store, StoreError

INFO_COLUMNS = ("code", "code_version", "method", "functional", "basis", "dispersion")
SPLITS = ("train", "validation", "test")


def select(filter_text: str = "", dataset: str | None = None, split: str | None = None) -> sa.Select:
    """The SQL for a filter, restricted to a dataset (and one of its splits) when given."""
    query = entries_query(parse_filter(filter_text)).order_by(calculations.c.id)
    if dataset is None:
        if split is not None:
            raise StoreError("a split needs a dataset: give --dataset NAME with --split")
        return query
    membership = sa.and_(dataset_members.c.calculation_id == calculations.c.id,
                         dataset_members.c.dataset_id == datasets.c.id, datasets.c.name == dataset)
    if split is not None:
        if split not in SPLITS:
            raise StoreError(f"unknown split {split!r}; use one of {', '.join(SPLITS)}")
        membership = sa.and_(membership, dataset_members.c.split == split)
    return query.where(sa.exists().where(membership))


def query(store: Store, filter_text: str = "", *, dataset: str | None = None, split: str | None = None,
          limit: int | None = None, offset: int = 0) -> list[Atoms]:
    """Frames matching the filter, in id order."""
    return list(iter_query(store, filter_text, dataset=dataset, split=split, limit=limit, offset=offset))


def iter_query(store: Store, filter_text: str = "", *, dataset: str | None = None, split: str | None = None,
               limit: int | None = None, offset: int = 0) -> Iterator[Atoms]:
    if dataset is not None:
        check_dataset(store, dataset)
    statement = select(filter_text, dataset, split).limit(limit).offset(offset)
    with store.engine.connect() as connection:
        for row in connection.execution_options(yield_per=2000).execute(statement):
            yield frame_from_row(row)


def ids(store: Store, filter_text: str = "", *, dataset: str | None = None, split: str | None = None) -> list[int]:
    """Calculation ids of the frames ``query`` would return, in the same order, without decoding any."""
    if dataset is not None:
        check_dataset(store, dataset)
    statement = select(filter_text, dataset, split).with_only_columns(calculations.c.id)
    with store.engine.connect() as connection:
        return list(connection.execute(statement).scalars())


def frames_by_id(store: Store, wanted: Sequence[int], chunk: int = 5000) -> list[Atoms]:
    """Frames of the calculations ``wanted``, in that order (chunked: SQLite limits bound parameters)."""
    found: dict[int, Atoms] = {}
    with store.engine.connect() as connection:
        for start in range(0, len(wanted), chunk):
            part = [int(k) for k in wanted[start:start + chunk]]
            for row in connection.execute(select().where(calculations.c.id.in_(part))):
                found[row.id] = frame_from_row(row)
    return [found[int(k)] for k in wanted]


def count(store: Store, filter_text: str = "", *, dataset: str | None = None, split: str | None = None) -> int:
    statement = select(filter_text, dataset, split).order_by(None)
    with store.engine.connect() as connection:
        return connection.execute(sa.select(sa.func.count()).select_from(statement.subquery())).scalar_one()


def check_dataset(store: Store, name: str) -> None:
    with store.engine.connect() as connection:
        names = list(connection.execute(sa.select(datasets.c.name)).scalars())
    if name not in names:
        known = ", ".join(sorted(names)) or "none yet; try `esml datasets import qm7`"
        raise StoreError(f"no dataset named {name!r} in the store (datasets: {known})")


def frame_from_row(row) -> Atoms:
    atoms = atoms_from_row(row)
    n_atoms = len(atoms)
    results = {"energy": row.energy,
               "forces": array_from_blob(row.forces, (n_atoms, 3)),
               "stress": array_from_blob(row.stress, (6,)),
               "dipole": array_from_blob(row.dipole, (3,)),
               "charges": array_from_blob(row.charges, (n_atoms,))}
    results = {key: value for key, value in results.items() if value is not None}
    info = {"esml_id": row.id, "charge": row.charge, "multiplicity": row.multiplicity,
            "esml_source": row.source_path, "esml_frame": row.frame, "band_gap": row.band_gap,
            **{f"esml_{name}": getattr(row, name) for name in INFO_COLUMNS}, **row.properties}
    atoms.info.update({key: value for key, value in info.items() if value is not None})
    if results:
        atoms.calc = SinglePointCalculator(atoms, **results)
    return atoms
