"""Outputs written so that a killed process leaves either the old file or the complete new one,
and checked before any work so that nothing computed is lost to a path that cannot be written.

Part of the core: every command that writes a file goes through here.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence
from pathlib import Path

from ase import Atoms

from esml.errors import EsmlError

#: ASE formats that keep what esml computes (energies, forces, per-atom charges): a labeled frame
#: written to any other (.pdb, plain .xyz of other codes) would lose it without a word.
RESULT_FORMATS = {"extxyz": ".xyz or .extxyz", "traj": ".traj"}


def check_writable(path: Path, what: str = "the output", example: str = "out.xyz") -> None:
    """Refuse, before any work, an output that is a folder or that cannot be created where it is asked."""
    path = Path(path)
    if path.is_dir():
        raise EsmlError(f"{path} is a folder; give a file name for {what} (e.g. {path / example})")
    folder = next((parent for parent in path.absolute().parents if parent.exists()), Path("/"))
    if not folder.is_dir() or not os.access(folder, os.W_OK | os.X_OK):
        raise EsmlError(f"{path}: cannot write in {folder}; choose a location you may write to")
    if path.exists() and not os.access(path, os.W_OK):
        raise EsmlError(f"{path} exists and is read-only; choose another name or make it writable")


def check_folder(path: Path, what: str = "the run") -> None:
    """Refuse a folder output whose name is taken by a file, before any work."""
    path = Path(path)
    if path.is_dir():
        if not os.access(path, os.W_OK | os.X_OK):
            raise EsmlError(f"{path}: cannot write in this folder; choose a location you may write to")
        return
    if path.exists():
        raise EsmlError(f"{path} is a file; give a folder for {what} (a new name, or an earlier run's folder)")
    check_writable(path, what)  # a new folder: where it will be made must be writable


def check_outputs(*outputs: tuple[Path | None, str, str]) -> None:
    """``check_writable`` for each (path, what, example) whose path was given."""
    for path, what, example in outputs:
        if path is not None:
            check_writable(path, what, example)


def results_format(path: Path) -> str:
    """The ASE format an output of labeled frames gets from its extension; refused in one line
    where that format would drop energies or forces."""
    from ase.io.formats import UnknownFileTypeError, filetype

    try:
        name = filetype(str(path), read=False)
    except (KeyError, UnknownFileTypeError):
        name = None
    if name not in RESULT_FORMATS:
        kinds = " or ".join(RESULT_FORMATS.values())
        raise EsmlError(f"{path}: labeled frames are written as {kinds} (formats that keep energies and forces); "
                        "rename the output")
    return name


def write_atomically(path: Path, write: Callable[[Path], None]) -> None:
    """``write(temporary)``, then the temporary file renamed onto ``path`` (atomic on one file system:
    a reader, or a process killed meanwhile, never sees half a file)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    try:
        write(temporary)
        os.replace(temporary, path)
    finally:
        temporary.unlink(missing_ok=True)


def write_text(path: Path, text: str) -> None:
    write_atomically(path, lambda temporary: temporary.write_text(text))


def write_frames(path: Path, frames: Sequence[Atoms], format: str | None = None) -> None:
    """Frames with their results, in the format of the extension (:func:`results_format`) unless given."""
    import ase.io

    format = format or results_format(path)
    write_atomically(path, lambda temporary: ase.io.write(temporary, list(frames), format=format))
