"""Periodic codes and ASE's own files, read by ase.io; VASP's settings by pymatgen.

ASE's readers return eV and Å, with two exceptions corrected here (each has a test):

- Qbox: ``ase.io.read`` returns Qbox's atomic units untouched (Hartree, Bohr, Hartree/Bohr);
  they are converted, and Qbox's stress (whose unit ASE does not say) is not stored.
- CASTEP with a dispersion correction (DFT-D): ASE stores the energy *without* the correction
  (it files the corrected one under a misspelt key) while the forces include it; the corrected
  energy is taken, so that energy and forces describe one potential-energy surface.
"""

from __future__ import annotations

import contextlib
import warnings
from pathlib import Path

import numpy as np
from ase import Atoms

from esml.data.readers.common import ReadError, failure_reason, read_frames, record_from_atoms
from esml.data.readers.detect import Detected, finished
from esml.data.records import Record
from esml.units import BOHR_TO_ANGSTROM, HARTREE_PER_BOHR_TO_EV_PER_ANGSTROM, HARTREE_TO_EV

HARTREE = {"energy": "Hartree", "forces": "Hartree/Bohr"}
RYDBERG = {"energy": "Ry", "forces": "Ry/Bohr", "stress": "Ry/Bohr^3"}
EV = {"energy": "eV", "forces": "eV/Å", "stress": "eV/Å^3"}

# ASE format -> (code, units the code wrote)
CODES = {
    "vasp-xml": ("VASP", {**EV, "stress": "kBar"}),
    "vasp-out": ("VASP", {**EV, "stress": "kBar"}),
    "espresso-out": ("Quantum ESPRESSO", RYDBERG),
    "aims-output": ("FHI-aims", EV),
    "castep-castep": ("CASTEP", EV),
    "gpaw-out": ("GPAW", EV),
    "qbox": ("Qbox", HARTREE),
    "abinit-out": ("ABINIT", HARTREE),
}
# Output readers worth a second try on a file its detected reader rejects (excerpts lack banners).
FALLBACKS = ("aims-output", "espresso-out", "castep-castep", "vasp-out")


def read(path: Path, detected: Detected) -> tuple[str, list[Record]]:
    """Every frame of ``path`` as records, and the parser's name ("ase.io:<format>")."""
    fmt, frames = _read_any(path, detected)
    if finished(path, fmt) is False:
        raise ReadError(f"the {CODES[fmt][0]} run did not end (its closing lines are missing): a killed or "
                        "failed job, whose last numbers may be cut off; not stored")
    code, units = CODES.get(fmt, (fmt, EV))
    metadata = vasp_metadata(path) if fmt == "vasp-xml" else {}
    if fmt == "qbox":
        frames = [qbox_in_ev(atoms) for atoms in frames]
    if fmt == "castep-castep":
        frames = [castep_with_dispersion(atoms) for atoms in frames]
    records = [record_from_atoms(atoms, code, index, units, metadata) for index, atoms in enumerate(frames)]
    return f"ase.io:{fmt}", records


def vasp_metadata(path: Path) -> dict:
    """VASP's method from vasprun.xml's INCAR and parameters (pymatgen reads them)."""
    from pymatgen.io.vasp.outputs import Vasprun

    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            run = Vasprun(str(path), parse_dos=False, parse_eigen=False, parse_projected_eigen=False,
                          parse_potcar_file=False)
    except Exception as error:  # pymatgen's exception is the file's fault, whatever its type
        raise ReadError(f"pymatgen could not read the VASP settings: {failure_reason(error)}") from None
    functional = str(run.run_type).lower()
    settings = {key: run.incar[key] for key in ("ENCUT", "ISMEAR", "SIGMA", "PSTRESS", "IVDW", "LDAU") if key in run.incar}
    return {"code_version": run.vasp_version, "functional": functional, "method": functional,
            "settings": {key: _plain(value) for key, value in settings.items()}}


def qbox_in_ev(atoms: Atoms) -> Atoms:
    """A Qbox frame as ASE reads it (atomic units) in eV and Å."""
    from ase.calculators.singlepoint import SinglePointCalculator

    converted = Atoms(numbers=atoms.numbers, positions=atoms.positions * BOHR_TO_ANGSTROM,
                      cell=atoms.cell.array * BOHR_TO_ANGSTROM, pbc=atoms.pbc)
    results = atoms.calc.results if atoms.calc is not None else {}
    converted.calc = SinglePointCalculator(
        converted,
        energy=None if "energy" not in results else results["energy"] * HARTREE_TO_EV,
        forces=None if "forces" not in results else np.asarray(results["forces"]) * HARTREE_PER_BOHR_TO_EV_PER_ANGSTROM)
    return converted


def castep_with_dispersion(atoms: Atoms) -> Atoms:
    """A CASTEP frame whose energy and free energy include the dispersion correction when CASTEP
    printed one (ASE 3.29 files it as ``*_with_dispersion_correlation``)."""
    results = atoms.calc.results if atoms.calc is not None else {}
    for key in ("energy", "free_energy"):
        corrected = [results[name] for name in (f"{key}_with_dispersion_correction", f"{key}_with_dispersion_correlation")
                     if name in results]
        if corrected:
            results[key] = float(corrected[0])
    return atoms


def _read_any(path: Path, detected: Detected) -> tuple[str, list[Atoms]]:
    """Read with the detected format; an output that format's reader rejects (".out" is claimed by
    several codes, and excerpts lack banners) is tried with the other codes' output readers."""
    fmt = detected.name
    try:
        return fmt, read_frames(path, fmt)
    except ReadError as failure:
        if fmt in CODES:
            for other in FALLBACKS:
                if other != fmt:
                    with contextlib.suppress(ReadError):
                        return other, read_frames(path, other)
        if detected.by_name:
            raise ReadError(f"unknown format: only its name suggests {fmt}, and {failure}") from None
        raise


def _plain(value):
    return value.item() if isinstance(value, np.generic) else value if isinstance(value, (int, float, str, bool)) else str(value)
