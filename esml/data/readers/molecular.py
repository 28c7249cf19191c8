"""Molecular quantum-chemistry codes, read by cclib, with what cclib leaves to its users.

cclib parses 15 codes into one data model, in eV and Å; this adapter decides what a frame is:

- **the energy** is the highest level in the file: coupled cluster (``ccenergies``, e.g.
  CCSD(T)) over Møller–Plesset (the last column of ``mpenergies``) over the SCF energy (HF or
  DFT, with any empirical dispersion the code added). ``settings["energy"]`` and ``method``
  name that level, so an MP2 and a CCSD(T) energy of one geometry are two calculations.
- **the geometry** of each energy: frames pair one to one when cclib found as many geometries as
  energies; otherwise only a converged optimisation's last energy and geometry are paired,
  since there is no telling which energy belongs to which of the other geometries.
- **forces** come from ``grads``, whose sign differs between cclib's parsers (Gaussian prints
  forces, the others gradients; cclib issue #1426): ``FORCE_SIGN`` holds the sign of each code
  checked on real runs (tests/test_ingest_codes.py), and a code not in it gets no forces. Where
  consecutive frames have forces, each step's work -½(F₀+F₁)·Δx must match its energy change;
  a frame whose steps all disagree (cclib's first Gaussian frame can carry another orientation's
  forces) keeps its energy and loses its forces.
- **a failed run** (no normal-termination line: SCF failure, a killed job, a number cut off) is
  refused: cclib's ``metadata["success"]``, or ``detect.ENDINGS`` where cclib does not set it.

cclib's energies are converted back to Hartree with cclib's own constant and then to eV with
esml's (ASE's CODATA), so a stored energy is the printed Hartree value times one constant.
"""

from __future__ import annotations

import contextlib
import io
import logging
import re
import warnings
from dataclasses import replace
from pathlib import Path

import numpy as np
from ase import Atoms

from esml.data.readers.common import ReadError, failure_reason, read_frames, record_from_atoms, with_checked_forces
from esml.data.readers.detect import Detected, finished
from esml.data.records import Record
from esml.units import HARTREE_PER_BOHR_TO_EV_PER_ANGSTROM, HARTREE_TO_EV

# cclib parser -> the code's name in the store
CODES = {"ADF": "ADF", "DALTON": "DALTON", "GAMESS": "GAMESS", "GAMESSUK": "GAMESS-UK", "Gaussian": "Gaussian",
         "Jaguar": "Jaguar", "Molcas": "Molcas", "Molpro": "Molpro", "MOPAC": "MOPAC", "NWChem": "NWChem",
         "ORCA": "ORCA", "Psi4": "Psi4", "QChem": "Q-Chem", "Turbomole": "Turbomole", "XTB": "xTB"}
# sign that turns cclib's ``grads`` into forces, per parser, each checked against the energies of a
# real optimisation or MD run; parsers not listed give no forces
FORCE_SIGN = {"Gaussian": 1.0, "NWChem": -1.0, "ORCA": -1.0, "Psi4": -1.0, "QChem": -1.0, "Molcas": -1.0}
UNITS = {"energy": "Hartree", "forces": "Hartree/Bohr"}
# the line that begins each job of a compound input or of logs written one after another
JOB_START = {"Gaussian": " Entering Gaussian System"}
# what a code prints when its optimisation converged, where cclib does not set ``optdone`` for it
OPTIMISATION_CONVERGED = {"XTB": "GEOMETRY OPTIMIZATION CONVERGED"}
# lines ORCA prints in CIS/TD-DFT runs, whose final single-point energy is then an excited state's
EXCITED_STATE_MARKERS = ("TD-DFT/TDA EXCITED STATES", "TD-DFT EXCITED STATES", "CIS-EXCITED STATES", "CIS EXCITED STATES")
# a correlation energy is at most this fraction of the SCF energy (it is below 1 % for molecules)
MAX_CORRELATION = 0.05


def read(path: Path, detected: Detected) -> tuple[str, list[Record]]:
    """Every frame of ``path`` with an energy, as records, and the parser's name ("cclib:<parser>").
    A compound job (Gaussian's --Link1--, or logs written one after another) is read job by job."""
    parser = detected.name
    jobs = _jobs(path, parser)
    records: list[Record] = []
    for number, source in enumerate(jobs):
        try:
            data = _parse(source, parser)
            job = _job_records(path, data, parser)
        except ReadError as error:
            if parser == "ORCA" and len(jobs) == 1 and "reader failed" in str(error):
                return orca_by_ase(path)
            raise ReadError(f"job {number + 1} of {len(jobs)}: {error}") if len(jobs) > 1 else error from None
        offset = len(records) and records[-1].frame + 1
        records += [replace(record, frame=offset + record.frame) for record in job]
    return f"cclib:{parser}", records


def _job_records(path: Path, data, parser: str) -> list[Record]:
    if not (data.metadata.get("success") or finished(path, parser)):
        raise ReadError(f"the {CODES[parser]} run did not end normally (no normal-termination line): a failed or "
                        "killed job, whose last numbers may be cut off; not stored")
    level, energies = highest_level(data)
    geometries = getattr(data, "atomcoords", None)
    if geometries is None or not np.size(geometries):
        raise ReadError(f"cclib found no geometry in this {CODES[parser]} output (a code may print only its input "
                        "file's name, as xTB does for a single point); not stored")
    geometries = np.asarray(geometries, dtype=float)
    if geometries.ndim != 3 or geometries.shape[1:] != (len(data.atomnos), 3):
        raise ReadError(f"cclib's geometries have shape {geometries.shape} for {len(data.atomnos)} atoms; not stored")
    frames = _pair(data, geometries, energies, _optimisation_converged(path, data, parser))
    forces = _forces(data, parser, geometries, energies, frames)
    fields = method_fields(data, level)
    charges = getattr(data, "atomcharges", {}).get("mulliken")
    records = []
    for k, (g, e) in enumerate(frames):
        atoms = Atoms(numbers=data.atomnos, positions=geometries[g])
        last = k == len(frames) - 1
        records.append(Record(
            atoms=atoms, energy=float(energies[e]), forces=None if forces is None else forces[k],
            charges=np.asarray(charges, dtype=float) if last and charges is not None and len(charges) == len(atoms) else None,
            original_units={**UNITS} if forces is not None else {"energy": "Hartree"}, frame=g, **fields))
    return with_checked_forces(records)


def _jobs(path: Path, parser: str) -> list:
    """What cclib parses: the file, or each job of a compound one as text (cclib reads only a file's first job)."""
    start = JOB_START.get(parser)
    if start is None:
        return [str(path)]
    text = _text(path)
    parts = text.split(start)
    if len(parts) <= 2:
        return [io.StringIO(text)]  # the text already read, not the file read again
    jobs = [start + part for part in parts[1:]]
    jobs[0] = parts[0] + jobs[0]
    return [io.StringIO(job) for job in jobs]


def orca_by_ase(path: Path) -> tuple[str, list[Record]]:
    """An ORCA output cclib cannot read (cclib 1.8.1 stops on ORCA 6), read by ASE: each "FINAL
    SINGLE POINT ENERGY" and its geometry, without the method, charge and spin, which ASE does not
    read. An excited-state run is refused: there that energy is an excited state's."""
    if finished(path, "orca-output") is False:
        raise ReadError("the ORCA run did not end normally (no ORCA TERMINATED NORMALLY): a failed or killed job; not stored")
    if any(marker in _text(path) for marker in EXCITED_STATE_MARKERS):
        raise ReadError("an ORCA excited-state run that cclib cannot read: its final energy may be an excited state's "
                        "and ASE cannot tell which; not stored")
    frames = read_frames(path, "orca-output")
    records = [record_from_atoms(atoms, "ORCA", k, {"energy": "Hartree"}, {"settings": {"energy": "final single point"}})
               for k, atoms in enumerate(frames)]
    return "ase.io:orca-output", with_checked_forces(records)


def highest_level(data) -> tuple[str, np.ndarray]:
    """The highest level of theory in the file and its energy per frame, in eV."""
    from cclib.parser.utils import convertor

    methods = [str(m) for m in data.metadata.get("methods", [])]
    if getattr(data, "ccenergies", None) is not None and len(data.ccenergies):
        level = next((m for m in reversed(methods) if m.upper().startswith("CC")), "CC")
        values = np.asarray(data.ccenergies, dtype=float)
    elif getattr(data, "mpenergies", None) is not None and len(data.mpenergies):
        values = np.asarray(data.mpenergies, dtype=float)
        values = values[:, -1] if values.ndim == 2 else values
        order = np.shape(data.mpenergies)[-1] + 1 if np.ndim(data.mpenergies) == 2 else 2
        level = next((m for m in reversed(methods) if "MP" in m.upper()), f"MP{order}")
    elif getattr(data, "scfenergies", None) is not None and len(data.scfenergies):
        values = np.asarray(data.scfenergies, dtype=float)
        level = _scf_level(data, methods)
    else:
        raise ReadError("cclib found no energy in this file (a structure or an input, not a calculation)")
    level = re.sub(r"^CCSD-T$", "CCSD(T)", level)
    _check_correlation(data, level, values)
    return level.lower(), np.array([convertor(v, "eV", "hartree") for v in values]) * HARTREE_TO_EV


def method_fields(data, level: str) -> dict:
    """Code, version, method ("level/basis"), functional, basis, dispersion, charge and multiplicity."""
    metadata = data.metadata
    basis = metadata.get("basis_set")
    basis = basis.lower() if isinstance(basis, str) and basis else None
    functional = metadata.get("functional")
    dispersion = getattr(data, "dispersionenergies", None)
    has_dispersion = dispersion is not None and np.any(np.abs(np.asarray(dispersion, dtype=float)) > 0)
    return {
        "code": CODES[type(data).__name__] if type(data).__name__ in CODES else metadata.get("package", "unknown"),
        "code_version": str(metadata.get("package_version") or "") or None,
        "method": f"{level}/{basis}" if basis else level,
        "functional": functional.lower() if isinstance(functional, str) and functional else None,
        "basis": basis,
        "dispersion": "empirical" if has_dispersion else None,
        "charge": int(data.charge) if getattr(data, "charge", None) is not None else None,
        "multiplicity": int(data.mult) if getattr(data, "mult", None) is not None else None,
        "settings": {"energy": level, "unrestricted": bool(metadata.get("unrestricted", False))},
    }


def _parse(source, parser: str):
    import cclib.parser

    try:
        # cclib logs what it skips and some parsers print; esml reports what it stores
        with warnings.catch_warnings(), contextlib.redirect_stdout(io.StringIO()):
            warnings.simplefilter("ignore")
            data = getattr(cclib.parser, parser)(source, loglevel=logging.CRITICAL + 1).parse()
    except Exception as error:  # cclib's exception is the file's fault, whatever its type
        raise ReadError(f"cclib's {CODES[parser]} reader failed ({failure_reason(error)}); this version of "
                        f"{CODES[parser]} may be newer than cclib reads") from None
    if data is None or getattr(data, "atomnos", None) is None:
        raise ReadError(f"cclib's {CODES[parser]} reader found no atoms: not a {CODES[parser]} output, or one without a geometry")
    return data


def _pair(data, geometries, energies, converged: bool) -> list[tuple[int, int]]:
    """(geometry index, energy index) of each frame."""
    if len(geometries) == len(energies):
        return [(k, k) for k in range(len(energies))]
    if converged:
        return [(len(geometries) - 1, len(energies) - 1)]
    raise ReadError(f"{len(geometries)} geometries but {len(energies)} energies, and not a converged optimisation: "
                    "which energy belongs to which geometry cannot be told")


def _optimisation_converged(path: Path, data, parser: str) -> bool:
    """Whether the file holds a converged optimisation, whose last energy is its last geometry's
    (xTB ends an optimisation with a single point on the final structure)."""
    marker = OPTIMISATION_CONVERGED.get(parser)
    return bool(getattr(data, "optdone", False)) or (marker is not None and marker in _text(path))


def _forces(data, parser: str, geometries, energies, frames) -> list[np.ndarray] | None:
    grads = getattr(data, "grads", None)
    if parser not in FORCE_SIGN or grads is None or len(grads) != len(geometries) or len(frames) != len(geometries):
        return None
    return list(FORCE_SIGN[parser] * np.asarray(grads, dtype=float) * HARTREE_PER_BOHR_TO_EV_PER_ANGSTROM)


def _text(path: Path) -> str:
    with open(path, encoding="utf-8", errors="replace") as stream:
        return stream.read()


def _check_correlation(data, level: str, values: np.ndarray) -> None:
    """A correlated energy lies below its SCF energy by a small fraction of it (the correlation
    energy); anything else is a misread (cclib 1.8.1 reads GAMESS-UK's MP2 energy 27× too large)."""
    scf = getattr(data, "scfenergies", None)
    if level.lower().startswith(("cc", "mp", "df-mp")) is False or scf is None or len(scf) != len(values):
        return
    scf = np.asarray(scf, dtype=float)
    if not np.all((values < scf) & (values > scf - MAX_CORRELATION * np.abs(scf))):
        raise ReadError(f"cclib's {level} energy ({values[-1]:.6g} eV) is not a correlation correction to the SCF energy "
                        f"({scf[-1]:.6g} eV); a misread number is not stored")


def _scf_level(data, methods: list[str]) -> str:
    if type(data).__name__ == "MOPAC":
        return "heat-of-formation"  # cclib's MOPAC "scfenergies" is the heat of formation, not a total energy
    functional = data.metadata.get("functional")
    if isinstance(functional, str) and functional:
        return functional
    named = [m for m in methods if m.upper() not in ("DFT", "SCF")]
    if named:
        return named[-1]  # HF, RHF, GFN2-xTB, …
    return "dft" if "DFT" in (m.upper() for m in methods) else "scf"
