"""A calculation record (structure + method + results), its canonical hashes, and its table rows.

A :class:`Record` is what every reader produces and what the store writes; it holds everything
in eV, Å and e. ``original_units`` says what the source file used before its reader converted.
"""

from __future__ import annotations

import hashlib
import json
import math
from dataclasses import dataclass, field
from datetime import datetime, timezone
from functools import reduce

import numpy as np
from ase import Atoms
from ase.data import chemical_symbols

from esml.errors import StructureError

# Keys of ASE's calculator results that have their own column; every other scalar goes to ``properties``.
ARRAY_RESULTS = ("forces", "stress", "dipole", "charges")


@dataclass(frozen=True)
class Record:
    """One frame and what was computed for it. Arrays: forces (n_atoms, 3) eV/Å, stress (6,) eV/Å³
    (Voigt, ASE sign), dipole (3,) e·Å, charges (n_atoms,) e. ``properties``: other scalars."""

    atoms: Atoms
    code: str
    code_version: str | None = None
    method: str | None = None
    functional: str | None = None
    basis: str | None = None
    dispersion: str | None = None
    charge: int | None = None
    multiplicity: int | None = None
    settings: dict = field(default_factory=dict)
    energy: float | None = None
    band_gap: float | None = None
    forces: np.ndarray | None = None
    stress: np.ndarray | None = None
    dipole: np.ndarray | None = None
    charges: np.ndarray | None = None
    properties: dict = field(default_factory=dict)
    original_units: dict = field(default_factory=dict)
    frame: int | None = None

    @property
    def has_results(self) -> bool:
        return self.energy is not None or self.forces is not None


def check_record(record: Record) -> None:
    """Refuse what a model must never train on: non-finite positions or results, wrong shapes."""
    n_atoms = len(record.atoms)
    if n_atoms == 0:
        raise StructureError("frame has no atoms")
    if not np.all(np.isfinite(record.atoms.positions)):
        raise StructureError("frame has non-finite positions")
    if record.energy is not None and not math.isfinite(record.energy):
        raise StructureError(f"frame has a non-finite energy ({record.energy})")
    expected = {"forces": (n_atoms, 3), "stress": (6,), "dipole": (3,), "charges": (n_atoms,)}
    for name, shape in expected.items():
        value = getattr(record, name)
        if value is None:
            continue
        if value.shape != shape:
            raise StructureError(f"{name} has shape {value.shape}, expected {shape}")
        if not np.all(np.isfinite(value)):
            raise StructureError(f"frame has non-finite {name}")


def structure_hash(atoms: Atoms) -> str:
    """Same atoms in any order, positions equal to 1e-6 Å, same cell and pbc: same hash."""
    positions = np.round(atoms.positions, 6) + 0.0  # + 0.0 turns -0.0 into 0.0
    order = np.lexsort((positions[:, 2], positions[:, 1], positions[:, 0], atoms.numbers))
    digest = hashlib.sha256()
    digest.update(atoms.numbers[order].astype("<i2").tobytes())
    digest.update(positions[order].astype("<f8").tobytes())
    digest.update(np.asarray(atoms.pbc, dtype=np.uint8).tobytes())
    if atoms.pbc.any():
        digest.update((np.round(atoms.cell.array, 6) + 0.0).astype("<f8").tobytes())
    return digest.hexdigest()


def calculation_hash(record: Record, structure_key: str) -> str:
    """The identity of a calculation: its structure, code, method, charge, spin and settings.
    Re-ingesting the same run from another file is then a duplicate, not a second row."""
    identity = [structure_key, record.code, record.code_version, record.method, record.charge,
                record.multiplicity, record.settings]
    return hashlib.sha256(json.dumps(identity, sort_keys=True, default=str).encode()).hexdigest()


def apart_hash(key: str, record: Record) -> str:
    """The identity of a calculation that claims another's identity (same structure, code, method,
    charge, spin, settings) but has another result: never merged with it, told apart by its energy."""
    energy = None if record.energy is None else round(record.energy, 6)
    return hashlib.sha256(json.dumps([key, "result", energy]).encode()).hexdigest()


def same_result(stored_energy: float | None, record: Record) -> bool:
    """Whether a stored energy and a record's are one result: equal to 1e-6 eV, or both absent."""
    if stored_energy is None or record.energy is None:
        return stored_energy is None and record.energy is None
    return abs(stored_energy - record.energy) <= 1e-6


def structure_row(atoms: Atoms, key: str, now: datetime) -> dict:
    symbols = atoms.get_chemical_symbols()
    counts = _element_counts(symbols)
    pbc = [bool(p) for p in atoms.pbc]
    return {
        "hash": key,
        "nsites": len(atoms),
        "nelements": len(counts),
        "elements": ",".join(sorted(counts)),
        "formula_reduced": formula_reduced(counts),
        "formula_hill": formula_hill(counts),
        "formula_anonymous": formula_anonymous(counts),
        "nperiodic": sum(pbc),
        "pbc": sum(1 << i for i, p in enumerate(pbc) if p),
        "numbers": atoms.numbers.astype("<i2").tobytes(),
        "positions": atoms.positions.astype("<f8").tobytes(),
        "cell": atoms.cell.array.astype("<f8").tobytes() if any(pbc) or atoms.cell.rank else None,
        "created": now,
    }


def calculation_row(record: Record, key: str, structure_id: int, source_id: int | None, now: datetime) -> dict:
    return {
        "hash": key,
        "structure_id": structure_id,
        "source_id": source_id,
        "frame": record.frame,
        "code": record.code,
        "code_version": record.code_version,
        "method": record.method,
        "functional": record.functional,
        "basis": record.basis,
        "dispersion": record.dispersion,
        "charge": record.charge,
        "multiplicity": record.multiplicity,
        "settings": record.settings,
        "energy": record.energy,
        "band_gap": record.band_gap,
        **{name: _blob(getattr(record, name)) for name in ARRAY_RESULTS},
        "properties": record.properties,
        "original_units": record.original_units,
        "created": now,
    }


def atoms_from_row(row) -> Atoms:
    """Rebuild the stored frame (a row with numbers, positions, cell and pbc columns)."""
    numbers = np.frombuffer(row.numbers, dtype="<i2").astype(int)
    positions = np.frombuffer(row.positions, dtype="<f8").reshape(-1, 3)
    cell = np.frombuffer(row.cell, dtype="<f8").reshape(3, 3) if row.cell is not None else None
    return Atoms(numbers=numbers, positions=positions, cell=cell, pbc=[bool(row.pbc >> i & 1) for i in range(3)])


def array_from_blob(blob: bytes | None, shape: tuple) -> np.ndarray | None:
    return None if blob is None else np.frombuffer(blob, dtype="<f8").reshape(shape).copy()


def utc_now() -> datetime:
    return datetime.now(timezone.utc)


def formula_reduced(counts: dict[str, int]) -> str:
    """OPTIMADE's reduced formula: elements in alphabetical order, counts divided by their gcd."""
    divisor = reduce(math.gcd, counts.values())
    return "".join(_term(symbol, counts[symbol] // divisor) for symbol in sorted(counts))


def formula_hill(counts: dict[str, int]) -> str:
    """Hill order: C, then H, then the rest alphabetically (all alphabetical without carbon)."""
    order = sorted(counts)
    if "C" in counts:
        order = ["C"] + (["H"] if "H" in counts else []) + [s for s in order if s not in ("C", "H")]
    return "".join(_term(symbol, counts[symbol]) for symbol in order)


def formula_anonymous(counts: dict[str, int]) -> str:
    """OPTIMADE's anonymous formula: reduced counts in descending order named A, B, C, …"""
    divisor = reduce(math.gcd, counts.values())
    reduced = sorted((n // divisor for n in counts.values()), reverse=True)
    return "".join(_term(_anonymous_name(i), n) for i, n in enumerate(reduced))


def _anonymous_name(index: int) -> str:
    letters = "ABCDEFGHIJKLMNOPQRSTUVWXYZ"
    return letters[index] if index < 26 else letters[index // 26 - 1] + letters[index % 26].lower()


def _term(symbol: str, count: int) -> str:
    return symbol if count == 1 else f"{symbol}{count}"


def _element_counts(symbols: list[str]) -> dict[str, int]:
    counts: dict[str, int] = {}
    for symbol in symbols:
        if symbol not in chemical_symbols[1:]:
            raise StructureError(f"unknown element {symbol!r}")
        counts[symbol] = counts.get(symbol, 0) + 1
    return counts


def _blob(value: np.ndarray | None) -> bytes | None:
    return None if value is None else np.asarray(value, dtype="<f8").tobytes()
