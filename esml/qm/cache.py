"""Content-addressed cache of reference labels, in one SQLite file.

A label's key hashes everything that decides its value: atomic numbers, positions
rounded to 1e-6 Å, cell, periodicity, charge, multiplicity, the method with all its
settings, whether forces were asked for, and the engine's version. Each result is
committed as soon as it arrives, so an interrupted run loses nothing and a re-run
computes only what is missing.
"""

from __future__ import annotations

import hashlib
import json
import os
import sqlite3
import time
from pathlib import Path

import numpy as np
from ase import Atoms

from esml.atomic import check_writable
from esml.errors import EsmlError
from esml.methods import MethodSpec

POSITION_RESOLUTION_ANGSTROM = 1e-6
# extxyz writes 8 decimals. Rounding there first means a frame read back from an extxyz file
# hashes like the in-memory original, even when a coordinate lies near a 1e-6 boundary.
EXTXYZ_DECIMALS = 8


def default_cache_path() -> Path:
    """``$ESML_CACHE`` if set, else ``$XDG_CACHE_HOME/esml/labels.sqlite`` (~/.cache by default)."""
    if "ESML_CACHE" in os.environ:
        return Path(os.environ["ESML_CACHE"])
    root = Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache"))
    return root / "esml" / "labels.sqlite"


def cache_key(atoms: Atoms, spec: MethodSpec, charge: int, multiplicity: int, forces: bool) -> str:
    """Hex SHA-256 of everything that determines a label."""
    digest = hashlib.sha256()
    digest.update(np.asarray(atoms.numbers, dtype=np.int64).tobytes())
    for array in (atoms.positions, np.asarray(atoms.cell)):
        canonical = np.round(array, EXTXYZ_DECIMALS)
        digest.update(np.rint(canonical / POSITION_RESOLUTION_ANGSTROM).astype(np.int64).tobytes())
    digest.update(np.asarray(atoms.pbc, dtype=np.int8).tobytes())
    context = {
        "charge": charge,
        "multiplicity": multiplicity,
        "forces": forces,
        "method": spec.settings(),
        "code": spec.code_version(),
    }
    digest.update(json.dumps(context, sort_keys=True).encode())
    return digest.hexdigest()


class LabelCache:
    """Maps cache keys to result dicts (numpy arrays in ASE units)."""

    def __init__(self, path: str | Path):
        self.path = Path(path)
        check_writable(self.path, "the label cache", "labels.sqlite")
        self.path.parent.mkdir(parents=True, exist_ok=True)
        try:
            self._db = sqlite3.connect(self.path, timeout=60)
            # WAL lets several esml runs share one cache without blocking each other's reads.
            self._db.execute("PRAGMA journal_mode=WAL")
            # In WAL mode NORMAL still survives a crash of esml; only a power cut may drop the last commits.
            self._db.execute("PRAGMA synchronous=NORMAL")
            self._db.execute(
                "CREATE TABLE IF NOT EXISTS labels (key TEXT PRIMARY KEY, method TEXT, result TEXT, seconds REAL, created REAL)"
            )
        except sqlite3.DatabaseError as error:
            raise EsmlError(f"{self.path} is not a label cache ({error}); give --cache a new file name "
                            "or an earlier esml label cache") from None

    def get_many(self, keys: list[str]) -> dict[str, dict]:
        found: dict[str, dict] = {}
        unique = list(dict.fromkeys(keys))
        for start in range(0, len(unique), 500):  # SQLite caps the number of bound parameters
            chunk = unique[start : start + 500]
            marks = ",".join("?" * len(chunk))
            for key, text in self._db.execute(f"SELECT key, result FROM labels WHERE key IN ({marks})", chunk):
                found[key] = decode_result(text)
        return found

    def put(self, key: str, method: str, result: dict, seconds: float) -> None:
        with self._db:
            self._db.execute(
                "INSERT OR REPLACE INTO labels VALUES (?, ?, ?, ?, ?)",
                (key, method, encode_result(result), seconds, time.time()),
            )

    def close(self) -> None:
        self._db.close()


def encode_result(result: dict) -> str:
    # json writes floats with repr, which round-trips float64 exactly
    return json.dumps({key: np.asarray(value).tolist() for key, value in result.items()})


def decode_result(text: str) -> dict:
    return {key: (np.asarray(value) if isinstance(value, list) else value) for key, value in json.loads(text).items()}
