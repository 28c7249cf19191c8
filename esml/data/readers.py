"""Reading the outputs of quantum codes into records, through ase.io and pymatgen.io.

esml writes no parser of its own: it recognises which code wrote a file (ASE's magic bytes,
then a short table of the codes' banners, then the file name) and hands it to that code's
reader. ASE's readers return eV and Å already; ``ORIGINAL_UNITS`` records what the code printed.
"""

from __future__ import annotations

import math
import warnings
from pathlib import Path

import numpy as np
from ase import Atoms
from ase.io.formats import UnknownFileTypeError, filetype, ioformats, match_magic

from esml.data.records import Record
from esml.errors import EsmlError

HARTREE = {"energy": "Hartree", "forces": "Hartree/Bohr"}
RYDBERG = {"energy": "Ry", "forces": "Ry/Bohr", "stress": "Ry/Bohr^3"}
EV = {"energy": "eV", "forces": "eV/Å", "stress": "eV/Å^3"}

# ASE format -> (code, units the code wrote)
CODES = {
    "vasp-xml": ("VASP", {**EV, "stress": "kBar"}),
    "vasp-out": ("VASP", {**EV, "stress": "kBar"}),
    "espresso-out": ("Quantum ESPRESSO", RYDBERG),
    "gaussian-out": ("Gaussian", HARTREE),
    "orca-output": ("ORCA", HARTREE),
    "nwchem-out": ("NWChem", HARTREE),
    "aims-output": ("FHI-aims", EV),
    "castep-castep": ("CASTEP", EV),
    "gpaw-out": ("GPAW", EV),
    "qbox": ("Qbox", HARTREE),
}
# Output readers worth a second try on a file its detected reader rejects (each fails fast on others' files).
FALLBACKS = ("aims-output", "espresso-out", "gaussian-out", "orca-output", "nwchem-out", "castep-castep", "vasp-out")

# Banners that identify an output when ASE's magic bytes do not (first 64 kB of the file).
BANNERS = (
    (b"Invoking FHI-aims", "aims-output"),
    (b"FHI-aims", "aims-output"),
    (b"Entering Gaussian System", "gaussian-out"),
    (b"O   R   C   A", "orca-output"),
    (b"Northwest Computational Chemistry Package", "nwchem-out"),
    (b"Program PWSCF", "espresso-out"),
    (b"Welcome to Academic Release CASTEP", "castep-castep"),
    (b"<modeling>", "vasp-xml"),
)
PEEK = 65536


class ReadError(EsmlError):
    """A file that no reader understands, or that its reader rejects."""


def detect_format(path: Path) -> str:
    """The ASE format name for ``path``, or ReadError saying why none fits."""
    if path.suffix in (".db", ".aselmdb"):
        return "db"
    head = _head(path)
    if not head:
        raise ReadError("empty file")
    try:
        return match_magic(head).name
    except UnknownFileTypeError:
        pass
    for banner, fmt in BANNERS:
        if banner in head:
            return fmt
    if b"\0" in head:
        raise ReadError("binary file of no known format")
    try:
        fmt = filetype(str(path), read=False)
    except UnknownFileTypeError:
        fmt = None
    if fmt not in ioformats:
        raise ReadError("unknown format (no reader in ase.io recognises it)")
    return fmt


def read_records(path: Path) -> tuple[str, list[Record]]:
    """Every frame of ``path`` as records, and the parser's name ("ase.io:<format>")."""
    fmt, frames = _read_any(path, detect_format(path))
    code, units = CODES.get(fmt, (fmt, EV))
    metadata = vasp_metadata(path) if fmt == "vasp-xml" else {}
    records = [record_from_atoms(atoms, code, index, units, metadata) for index, atoms in enumerate(frames)]
    return f"ase.io:{fmt}", records


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


def esml_method_fields(label: str, code_version: str) -> dict:
    """Method columns from an esml label such as 'pbe-d3bj/def2-svp' or 'gfn2-xtb'."""
    from esml.methods import parse_method

    spec = parse_method(label)
    return {"code": spec.engine, "code_version": code_version or None, "method": label,
            "functional": spec.name, "basis": spec.basis, "dispersion": spec.dispersion}


def vasp_metadata(path: Path) -> dict:
    """VASP's method from vasprun.xml's INCAR and parameters (pymatgen reads them)."""
    from pymatgen.io.vasp.outputs import Vasprun

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        run = Vasprun(str(path), parse_dos=False, parse_eigen=False, parse_projected_eigen=False,
                      parse_potcar_file=False)
    functional = str(run.run_type).lower()
    settings = {key: run.incar[key] for key in ("ENCUT", "ISMEAR", "SIGMA", "PSTRESS", "IVDW", "LDAU") if key in run.incar}
    return {"code_version": run.vasp_version, "functional": functional, "method": functional,
            "settings": {key: _plain(value) for key, value in settings.items()}}


def _read_any(path: Path, fmt: str) -> tuple[str, list[Atoms]]:
    """Read with the detected format; an output that format's reader rejects (".out" is claimed by
    several codes, and excerpts lack banners) is tried with the other codes' output readers."""
    try:
        return fmt, _read_frames(path, fmt)
    except ReadError as first_failure:
        if fmt not in CODES:
            raise
        for other in FALLBACKS:
            if other != fmt:
                try:
                    return other, _read_frames(path, other)
                except ReadError:
                    continue
        raise first_failure from None


def _read_frames(path: Path, fmt: str) -> list[Atoms]:
    import ase.io

    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # readers warn about what they skip; esml reports what it stores
            frames = ase.io.read(str(path), index=":", format=fmt)
    except Exception as error:  # a reader's exception is the file's fault, whatever its type
        raise ReadError(f"{fmt} reader failed: {_reason(error)}") from None
    frames = frames if isinstance(frames, list) else [frames]
    if not frames:
        raise ReadError(f"{fmt} reader found no frames")
    return frames


def _reason(error: Exception) -> str:
    text = str(error).strip().splitlines()
    return f"{type(error).__name__}: {text[0][:160]}" if text else type(error).__name__


def _head(path: Path) -> bytes:
    from ase.io.formats import open_with_compression

    with open_with_compression(str(path), "rb") as stream:
        return stream.read(PEEK)


def _array(value) -> np.ndarray | None:
    return None if value is None else np.asarray(value, dtype=float)


def _scalars(results: dict) -> dict:
    """Other finite scalar results (free_energy, magmom, …), kept under their ASE names."""
    return {key: float(value) for key, value in results.items()
            if np.ndim(value) == 0 and isinstance(value, (int, float, np.number)) and math.isfinite(float(value))}


def _optional_int(value) -> int | None:
    return None if value is None else int(value)


def _plain(value):
    return value.item() if isinstance(value, np.generic) else value if isinstance(value, (int, float, str, bool)) else str(value)
