"""Writing frames out: extxyz (any ASE tool reads it) and HDF5 (one file, ragged arrays).

HDF5 layout (all float64 unless noted; units eV, Å, e):
- ``n_atoms`` (n_frames,) int32, ``offsets`` (n_frames + 1,) int64: frame i owns atoms offsets[i]:offsets[i+1]
- ``numbers`` (n_total,) int16, ``positions`` (n_total, 3), ``forces`` (n_total, 3) (NaN where absent)
- ``energy`` (n_frames,) (NaN where absent), ``cell`` (n_frames, 3, 3), ``pbc`` (n_frames, 3) bool
- ``id`` (n_frames,) int64 (the store's calculation id), ``method`` (n_frames,) UTF-8 strings
- ``properties/<name>`` (n_frames,) for every scalar property any frame has (NaN where absent)
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np
from ase import Atoms

from esml.errors import EsmlError

FORMATS = ("extxyz", "h5")


def export_frames(frames: Sequence[Atoms], path: Path, fmt: str | None = None) -> str:
    """Write frames to ``path``; the format comes from ``fmt`` or the suffix (.xyz/.extxyz, .h5/.hdf5)."""
    fmt = fmt or {".xyz": "extxyz", ".extxyz": "extxyz", ".h5": "h5", ".hdf5": "h5"}.get(path.suffix.lower())
    if fmt not in FORMATS:
        raise EsmlError(f"cannot tell the export format of {str(path)!r}; use a .xyz or .h5 name or --format extxyz|h5")
    if not frames:
        raise EsmlError("nothing to export: the selection is empty")
    if fmt == "extxyz":
        import ase.io

        ase.io.write(str(path), list(frames), format="extxyz")
    else:
        write_hdf5(frames, path)
    return fmt


def write_hdf5(frames: Sequence[Atoms], path: Path) -> None:
    import h5py

    n_atoms = np.array([len(atoms) for atoms in frames], dtype=np.int32)
    offsets = np.concatenate([[0], np.cumsum(n_atoms, dtype=np.int64)])
    with h5py.File(path, "w") as h5:
        h5["n_atoms"], h5["offsets"] = n_atoms, offsets
        h5["numbers"] = np.concatenate([atoms.numbers for atoms in frames]).astype(np.int16)
        h5["positions"] = np.concatenate([atoms.positions for atoms in frames])
        h5["forces"] = np.concatenate([_result(atoms, "forces", (len(atoms), 3)) for atoms in frames])
        h5["energy"] = np.array([_result(atoms, "energy", ()) for atoms in frames], dtype=float)
        h5["cell"] = np.array([atoms.cell.array for atoms in frames])
        h5["pbc"] = np.array([atoms.pbc for atoms in frames])
        h5["id"] = np.array([atoms.info.get("esml_id", -1) for atoms in frames], dtype=np.int64)
        h5.create_dataset("method", data=[str(atoms.info.get("esml_method") or "") for atoms in frames],
                          dtype=h5py.string_dtype())
        for name in _scalar_property_names(frames):
            h5[f"properties/{name}"] = np.array([_as_float(atoms.info.get(name)) for atoms in frames])


def read_hdf5(path: Path) -> list[Atoms]:
    """Frames back from :func:`write_hdf5` (positions, cell, pbc, energy and forces as calculator results)."""
    import h5py
    from ase.calculators.singlepoint import SinglePointCalculator

    frames = []
    with h5py.File(path, "r") as h5:
        offsets, numbers, positions, forces = (h5[key][()] for key in ("offsets", "numbers", "positions", "forces"))
        energy, cell, pbc = h5["energy"][()], h5["cell"][()], h5["pbc"][()]
        for i in range(len(energy)):
            atoms_slice = slice(offsets[i], offsets[i + 1])
            atoms = Atoms(numbers=numbers[atoms_slice], positions=positions[atoms_slice], cell=cell[i], pbc=pbc[i])
            results = {}
            if np.isfinite(energy[i]):
                results["energy"] = float(energy[i])
            if np.all(np.isfinite(forces[atoms_slice])):
                results["forces"] = forces[atoms_slice]
            if results:
                atoms.calc = SinglePointCalculator(atoms, **results)
            frames.append(atoms)
    return frames


def _result(atoms: Atoms, name: str, shape: tuple):
    value = atoms.calc.results.get(name) if atoms.calc is not None else None
    return np.full(shape, np.nan) if value is None else value


def _scalar_property_names(frames: Sequence[Atoms]) -> list[str]:
    names = {key for atoms in frames for key, value in atoms.info.items()
             if isinstance(value, (int, float, np.number)) and not isinstance(value, bool) and not key.startswith("esml_")}
    return sorted(names)


def _as_float(value) -> float:
    return float(value) if isinstance(value, (int, float, np.number)) else np.nan
