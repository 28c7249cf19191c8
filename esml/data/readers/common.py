"""What every reader shares: the error a file gets, a record from an ASE frame, ASE's readers run
quietly, and the check that a file's forces agree with its energies."""

from __future__ import annotations

import contextlib
import io
import math
import warnings
from dataclasses import replace
from pathlib import Path

import numpy as np
from ase import Atoms

from esml.data.records import Record
from esml.errors import EsmlError

# a step's work and energy change agree within this fraction of the change plus STEP_ATOL (eV);
# the trapezoid rule's error on an optimiser's first, largest steps is up to about 15 %
STEP_RTOL, STEP_ATOL = 0.3, 1e-3


class ReadError(EsmlError):
    """A file that no reader understands, or that its reader rejects."""


def record_from_atoms(atoms: Atoms, code: str, frame: int, units: dict, metadata: dict | None = None) -> Record:
    """A record from an ASE frame: results from its calculator, provenance from ``info``
    (esml's own labels carry esml_method and esml_code there)."""
    results = dict(atoms.calc.results) if atoms.calc is not None else {}
    has_results = bool(results)
    info = atoms.info
    fields = dict(metadata or {})
    if "esml_method" in info:
        fields.update(esml_method_fields(str(info["esml_method"]), str(info.get("esml_code", ""))))
    energy = results.pop("energy", None)
    if energy is None:
        energy = results.get("free_energy")
    stress = results.pop("stress", None)
    if stress is not None and np.shape(stress) == (3, 3):
        stress = np.asarray(stress)[[0, 1, 2, 1, 0, 0], [0, 1, 2, 2, 2, 1]]
    return Record(
        atoms=Atoms(numbers=atoms.numbers, positions=atoms.positions, cell=atoms.cell, pbc=atoms.pbc),
        code=fields.pop("code", code),
        charge=_optional_int(info.get("charge")),
        multiplicity=_optional_int(info.get("multiplicity")),
        energy=None if energy is None else float(energy),
        forces=_array(results.pop("forces", None)),
        stress=_array(stress),
        dipole=_array(results.pop("dipole", None)),
        charges=_array(results.pop("charges", None)),
        properties=_scalars(results),
        original_units=units if has_results else {},
        frame=frame,
        **fields,
    )


def read_frames(path: Path, fmt: str) -> list[Atoms]:
    """Every frame ASE's reader ``fmt`` finds in ``path``, quietly; any failure is a ReadError."""
    import ase.io

    try:
        # readers warn about what they skip and some print; esml reports what it stores
        with warnings.catch_warnings(), contextlib.redirect_stdout(io.StringIO()):
            warnings.simplefilter("ignore")
            frames = ase.io.read(str(path), index=":", format=fmt)
    except Exception as error:  # a reader's exception is the file's fault, whatever its type
        raise ReadError(f"{fmt} reader failed: {failure_reason(error)}") from None
    frames = frames if isinstance(frames, list) else [frames]
    if not frames:
        raise ReadError(f"{fmt} reader found no frames")
    return frames


def failure_reason(error: Exception) -> str:
    """An exception as one short line: its type and the first line of its message."""
    text = str(error).strip().splitlines()
    return f"{type(error).__name__}: {text[0][:160]}" if text else type(error).__name__


def consistent_forces(energies: np.ndarray, positions: np.ndarray, forces: np.ndarray) -> np.ndarray:
    """Per frame, whether some step to a neighbouring frame has work -½(F₀+F₁)·Δx equal to its energy
    change (eV, Å, eV/Å); a single frame cannot be checked and is trusted."""
    n = len(energies)
    if n < 2:
        return np.ones(n, dtype=bool)
    work = -0.5 * np.einsum("kij,kij->k", forces[1:] + forces[:-1], positions[1:] - positions[:-1])
    change = np.diff(energies)
    agrees = np.abs(work - change) <= STEP_RTOL * np.abs(change) + STEP_ATOL
    return np.concatenate([[False], agrees]) | np.concatenate([agrees, [False]])


def with_checked_forces(records: list[Record]) -> list[Record]:
    """The records, where forces of consecutive frames contradict their energies (a reader that
    pairs a frame with another orientation's forces, or flips a sign) without those forces."""
    checked = list(records)
    k = 0
    while k < len(checked):
        run = k
        while run < len(checked) and checked[run].forces is not None and checked[run].energy is not None:
            run += 1
        if run - k >= 2:
            block = checked[k:run]
            trusted = consistent_forces(np.array([r.energy for r in block]), np.array([r.atoms.positions for r in block]),
                                        np.array([r.forces for r in block]))
            checked[k:run] = [r if ok else replace(r, forces=None) for r, ok in zip(block, trusted)]
        k = max(run, k + 1)
    return checked


def esml_method_fields(label: str, code_version: str) -> dict:
    """Method columns from an esml label such as 'pbe-d3bj/def2-svp' or 'gfn2-xtb'."""
    from esml.methods import parse_method

    spec = parse_method(label)
    return {"code": spec.engine, "code_version": code_version or None, "method": label,
            "functional": spec.name, "basis": spec.basis, "dispersion": spec.dispersion}


def _array(value) -> np.ndarray | None:
    return None if value is None else np.asarray(value, dtype=float)


def _scalars(results: dict) -> dict:
    """Other finite scalar results (free_energy, magmom, …), kept under their ASE names."""
    return {key: float(value) for key, value in results.items()
            if np.ndim(value) == 0 and isinstance(value, (int, float, np.number)) and math.isfinite(float(value))}


def _optional_int(value) -> int | None:
    return None if value is None else int(value)
