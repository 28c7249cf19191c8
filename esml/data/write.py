"""Writing records into the store in bulk, deduplicated by content hash."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass

import sqlalchemy as sa

from esml import __version__
from esml.data.records import (
    Record,
    apart_hash,
    calculation_hash,
    calculation_row,
    check_record,
    same_result,
    structure_hash,
    structure_row,
    utc_now,
)
from esml.data.schema import calculations, sources, structure_elements, structures
from esml.data.store import Store

# the fields of a calculation's identity besides its structure and code (see records.calculation_hash)
IDENTITY = ("code_version", "method", "charge", "multiplicity", "settings")
CHUNK = 5000  # rows per statement: big enough for throughput, small enough for parameter limits


@dataclass(frozen=True)
class Source:
    """Where records came from: the file (or package) and the parser that read it."""

    path: str
    sha256: str
    parser: str


@dataclass(frozen=True)
class WriteResult:
    """``calculation_ids`` holds one id per record written or found already stored, in input order."""

    added: int
    duplicates: int
    calculation_ids: list[int]
    kept_apart: int = 0  # records that matched a stored calculation's identity but not its result


def source_id_if_known(store: Store, sha256: str) -> int | None:
    with store.engine.connect() as connection:
        return connection.execute(sa.select(sources.c.id).where(sources.c.sha256 == sha256)).scalar()


def write_records(store: Store, records: Sequence[Record], source: Source | None = None) -> WriteResult:
    """Store records in one transaction: all of a file or none of it."""
    for record in records:
        check_record(record)
    now = utc_now()
    with store.engine.begin() as connection:
        source_id = _insert_source(connection, source, len(records), now) if source else None
        structure_keys = [structure_hash(record.atoms) for record in records]
        structure_ids = _ensure_structures(connection, records, structure_keys, now)
        calc_keys, kept_apart, known = _calculation_keys(connection, records, structure_keys, structure_ids)
        new_rows, pending = [], set()
        for record, key, structure_id in zip(records, calc_keys, structure_ids):
            if key not in known and key not in pending:
                pending.add(key)
                new_rows.append(calculation_row(record, key, structure_id, source_id, now))
        known.update(zip((row["hash"] for row in new_rows), _insert_returning_ids(connection, calculations, new_rows)))
    return WriteResult(added=len(new_rows), duplicates=len(records) - len(new_rows), kept_apart=kept_apart,
                       calculation_ids=[known[key] for key in calc_keys])


def _calculation_keys(connection, records: Sequence[Record], structure_keys: list[str],
                      structure_ids: list[int]) -> tuple[list[str], int, dict[str, int]]:
    """Each record's calculation hash, how many were kept apart, and the ids of those already stored.

    - A record whose identity matches a stored calculation's (or an earlier record's) but whose
      energy differs gets its own hash, so two results are never merged into one (a code that does
      not print its method, say).
    - A record of new identity whose structure, code and energy (to 1e-6 eV) match a stored
      calculation whose identity does not contradict its own is that calculation: the same run
      read from another file that tells less (VASP's OUTCAR beside its vasprun.xml)."""
    keys = [calculation_hash(r, k) for r, k in zip(records, structure_keys)]
    existing = _existing_calculations(connection, keys)
    ids = {key: id_ for key, (id_, _) in existing.items()}
    stored = {key: energy for key, (_, energy) in existing.items()}
    fresh = [index for index, key in enumerate(keys) if key not in stored]
    same_run = _same_run_elsewhere(connection, [records[i] for i in fresh], [structure_ids[i] for i in fresh])
    for index, found in zip(fresh, same_run):
        if found is not None:
            keys[index] = found.hash
            ids[found.hash], stored[found.hash] = found.id, found.energy
    kept_apart, apart = 0, []
    for index, (record, key) in enumerate(zip(records, keys)):
        if key not in stored:
            stored[key] = record.energy
        elif not same_result(stored[key], record):
            keys[index] = apart_hash(key, record)
            apart.append(keys[index])
            kept_apart += 1
    if apart:  # a result kept apart may itself be stored already (by an earlier file of the same run)
        ids.update(_existing_ids(connection, calculations, apart))
    return keys, kept_apart, ids


def _same_run_elsewhere(connection, records: list[Record], structure_ids: list[int]) -> list:
    """For each record, the row (id, hash, energy, …) of a stored calculation on its structure with its
    code and energy and an identity that agrees wherever both are known; None where there is none."""
    columns = [calculations.c[name] for name in ("id", "hash", "structure_id", "energy", "code", *IDENTITY)]
    candidates: dict[int, list] = {}
    for chunk in _chunks(sorted(set(structure_ids)), 900):
        query = sa.select(*columns).where(calculations.c.structure_id.in_(chunk), calculations.c.energy.is_not(None))
        for row in connection.execute(query):
            candidates.setdefault(row.structure_id, []).append(row)
    found = []
    for record, structure_id in zip(records, structure_ids):
        match = next((row for row in candidates.get(structure_id, [])
                      if row.code == record.code and same_result(row.energy, record) and _agree(row, record)), None)
        found.append(match)
    return found


def _agree(row, record: Record) -> bool:
    """Whether a stored calculation's identity and a record's are equal wherever both are known."""
    for name in IDENTITY:
        stored, new = getattr(row, name), getattr(record, name)
        if name == "settings":
            if any(stored[key] != new[key] for key in set(stored) & set(new)):
                return False
        elif stored is not None and new is not None and stored != new:
            return False
    return True


def _existing_calculations(connection, keys: Iterable[str]) -> dict[str, tuple[int, float | None]]:
    """hash -> (id, energy) of the stored calculations among ``keys``."""
    found: dict[str, tuple[int, float | None]] = {}
    for chunk in _chunks(sorted(set(keys)), 900):
        query = sa.select(calculations.c.hash, calculations.c.id, calculations.c.energy).where(calculations.c.hash.in_(chunk))
        found.update((row.hash, (row.id, row.energy)) for row in connection.execute(query))
    return found


def _insert_source(connection, source: Source, n_frames: int, now) -> int:
    known = connection.execute(sa.select(sources.c.id).where(sources.c.sha256 == source.sha256)).scalar()
    if known is not None:
        return known
    row = {"sha256": source.sha256, "path": source.path, "parser": source.parser, "n_frames": n_frames,
           "esml_version": __version__, "ingested": now}
    return connection.execute(sa.insert(sources).returning(sources.c.id), row).scalar_one()


def _ensure_structures(connection, records: Sequence[Record], keys: list[str], now) -> list[int]:
    ids = _existing_ids(connection, structures, keys)
    new_rows, new_atoms, pending = [], [], set()
    for record, key in zip(records, keys):
        if key not in ids and key not in pending:
            pending.add(key)
            new_rows.append(structure_row(record.atoms, key, now))
            new_atoms.append(record.atoms)
    new_ids = _insert_returning_ids(connection, structures, new_rows)
    ids.update(zip((row["hash"] for row in new_rows), new_ids))
    element_rows = [{"element": symbol, "structure_id": sid}
                    for sid, atoms in zip(new_ids, new_atoms) for symbol in sorted(set(atoms.get_chemical_symbols()))]
    for chunk in _chunks(element_rows):
        connection.execute(sa.insert(structure_elements), chunk)
    return [ids[key] for key in keys]


def _existing_ids(connection, table: sa.Table, keys: Iterable[str]) -> dict[str, int]:
    found: dict[str, int] = {}
    for chunk in _chunks(sorted(set(keys)), 900):
        query = sa.select(table.c.hash, table.c.id).where(table.c.hash.in_(chunk))
        found.update(tuple(row) for row in connection.execute(query))
    return found


def _insert_returning_ids(connection, table: sa.Table, rows: list[dict]) -> list[int]:
    ids: list[int] = []
    for chunk in _chunks(rows):
        statement = sa.insert(table).returning(table.c.id, sort_by_parameter_order=True)
        ids.extend(connection.execute(statement, chunk).scalars())
    return ids


def _chunks(items: list, size: int = CHUNK):
    for start in range(0, len(items), size):
        yield items[start:start + size]
