"""Reading the outputs of quantum codes into records, with the field's libraries.

esml writes no output parser of its own. ``detect`` finds which code wrote a file from its content;
then that code's reader in a well-kept library reads it:

- ``molecular``: cclib, for 15 molecular codes (ADF, DALTON, GAMESS, GAMESS-UK, Gaussian, Jaguar,
  Molcas, Molpro, MOPAC, NWChem, ORCA, Psi4, Q-Chem, Turbomole, xTB);
- ``periodic``: ase.io, for VASP, Quantum ESPRESSO, FHI-aims, CASTEP, GPAW, Qbox and ABINIT, and
  for ASE's own files (extxyz, trajectories, ASE databases); pymatgen for VASP's settings.

Where a library gives a wrong or ambiguous number, its adapter corrects it or refuses the file,
and says so in its docstring. Every record is in eV, Å and e; ``original_units`` says what the
code printed.
"""

from __future__ import annotations

from pathlib import Path

from esml.data.readers.common import ReadError, record_from_atoms
from esml.data.readers.detect import detect
from esml.data.records import Record

__all__ = ["ReadError", "read_records", "record_from_atoms"]


def read_records(path: Path) -> tuple[str, list[Record]]:
    """Every frame of ``path`` as records, and the parser's name ("cclib:Gaussian", "ase.io:vasp-xml")."""
    from esml.data.readers import molecular, periodic

    detected = detect(path)
    reader = molecular if detected.library == "cclib" else periodic
    return reader.read(path, detected)
