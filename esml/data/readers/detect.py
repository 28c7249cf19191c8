"""Which code wrote a file, and whether its run ended.

The code is found from the file's content, in this order: ASE's magic bytes for the formats ASE
reads best (periodic codes, ASE's own files), banners of periodic codes ASE's magic misses, cclib's
trigger phrases for molecular codes, and last the file name. Only the content is trusted: a file
recognised by its name alone says so when its reader then fails.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from ase.io.formats import UnknownFileTypeError, filetype, ioformats, match_magic

from esml.data.readers.common import ReadError

HEAD = 65536  # bytes read to recognise a file
MAGIC = 8192  # of which ASE's magic and cclib's triggers see these (each test runs over all it is given)
TAIL = 4096  # bytes read to find the line a code prints when its run ends

# ASE formats whose magic bytes are trusted. Gaussian, ORCA and NWChem have magic too, but cclib
# reads their method, charge, spin and correlated energies, so they are left to it.
ASE_MAGIC = ("abinit-out", "espresso-out", "aims-output", "gpaw-out", "qbox", "traj", "db", "extxyz", "json")

# Banners of periodic codes that ASE's magic does not know (first HEAD bytes of the file).
BANNERS = (
    (b"Invoking FHI-aims", "aims-output"),
    (b"FHI-aims", "aims-output"),
    (b"Program PWSCF", "espresso-out"),
    (b"Welcome to Academic Release CASTEP", "castep-castep"),
    (b"CASTEP version", "castep-castep"),
    (b"<modeling>", "vasp-xml"),
    (b"of ABINIT", "abinit-out"),
)

# cclib's parsers esml uses: those of output files with energies (not cclib's input or checkpoint readers).
CCLIB_PARSERS = ("ADF", "DALTON", "GAMESS", "GAMESSUK", "Gaussian", "Jaguar", "Molcas", "Molpro", "MOPAC",
                 "NWChem", "ORCA", "Psi4", "QChem", "Turbomole", "XTB")

# What each code prints when its run ends, looked for in the last TAIL bytes. A run without it was
# killed or failed (wall-time limit, SCF failure, a crash), and its last numbers may be cut off. For
# cclib's parsers this is the fallback where cclib does not set ``metadata["success"]`` itself.
ENDINGS = {
    "vasp-xml": (b"</modeling>",),
    "vasp-out": (b"General timing and accounting", b"Voluntary context switches"),
    "aims-output": (b"Have a nice day",),
    "castep-castep": (b"Total time",),
    "espresso-out": (b"JOB DONE",),
    "gpaw-out": (b"Total:",),
    "qbox": (b"</fpmd:simulation>",),
    "abinit-out": (b"Calculation completed",),
    "orca-output": (b"ORCA TERMINATED NORMALLY",),
    "Molcas": (b"Timing: Wall=",),
    "MOPAC": (b"== MOPAC DONE ==",),
    "Molpro": (b"Molpro calculation terminated", b"Variable memory released"),
}


@dataclass(frozen=True)
class Detected:
    """``library`` ('cclib' or 'ase') reads the file with its reader ``name`` (a cclib parser or an
    ASE format); ``by_name`` when only the file name pointed to it."""

    library: str
    name: str
    by_name: bool = False


def detect(path: Path) -> Detected:
    """The reader for ``path``, or ReadError saying why there is none."""
    if path.suffix in (".db", ".aselmdb"):
        return Detected("ase", "db")
    head = _head(path)
    if not head:
        raise ReadError("empty file")
    try:
        fmt = match_magic(head[:MAGIC]).name
        if fmt in ASE_MAGIC:
            return Detected("ase", fmt)
    except UnknownFileTypeError:
        pass
    if head.startswith(b" vasp."):  # OUTCAR's first line names the program and its version
        return Detected("ase", "vasp-out")
    for banner, fmt in BANNERS:
        if banner in head:
            return Detected("ase", fmt)
    parser = _cclib_parser(head)
    if parser:
        return Detected("cclib", parser)
    if b"\0" in head:
        raise ReadError("binary file of no known format")
    try:
        fmt = filetype(str(path), read=False)
    except UnknownFileTypeError:
        fmt = None
    if fmt not in ioformats:
        raise ReadError("unknown format: no reader recognises its content (see `esml ingest --help` for the codes esml reads)")
    return Detected("ase", fmt, by_name=True)


def finished(path: Path, name: str) -> bool | None:
    """Whether the run's end line is in the file; None where ``ENDINGS`` knows no such line."""
    endings = ENDINGS.get(name)
    if endings is None:
        return None
    return any(ending in _tail(path) for ending in endings)


def _cclib_parser(head: bytes) -> str | None:
    from cclib.io.ccio import guess_filetype

    lines = head[:MAGIC].decode("utf-8", errors="replace").splitlines(keepends=True)
    parser = guess_filetype(lines)
    name = getattr(parser, "__name__", None)
    return name if name in CCLIB_PARSERS else None


def _head(path: Path) -> bytes:
    from ase.io.formats import open_with_compression

    with open_with_compression(str(path), "rb") as stream:
        return stream.read(HEAD)


def _tail(path: Path) -> bytes:
    """The last TAIL bytes; a compressed file is read through, since its size says nothing of its content's."""
    from ase.io.formats import open_with_compression

    tail = b""
    with open_with_compression(str(path), "rb") as stream:
        if path.suffix not in (".gz", ".bz2", ".xz"):
            stream.seek(max(0, path.stat().st_size - TAIL))
        for block in iter(lambda: stream.read(1 << 20), b""):
            tail = (tail + block)[-TAIL:]
    return tail
