"""The store's tables (SQLAlchemy Core). Every stored quantity is in eV, Å and e.

Arrays are little-endian binary blobs, one row per structure or calculation, so a
130k-molecule data set stays a few hundred MB and reads back without parsing:

- ``structures.numbers``    (n_atoms,)    int16 atomic numbers
- ``structures.positions``  (n_atoms, 3)  float64 Å
- ``structures.cell``       (3, 3)        float64 Å, rows are lattice vectors (ASE's convention)
- ``calculations.forces``   (n_atoms, 3)  float64 eV/Å
- ``calculations.stress``   (6,)          float64 eV/Å³, Voigt order xx yy zz yz xz xy (ASE's)
- ``calculations.dipole``   (3,)          float64 e·Å
- ``calculations.charges``  (n_atoms,)    float64 e

A calculation row with no results records a structure as it was found (a CIF, a POSCAR), so that
everything ingested can be queried and exported, for example to be labeled.
"""

from __future__ import annotations

from sqlalchemy import (
    JSON,
    Column,
    DateTime,
    Float,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    String,
    Table,
    Text,
)

metadata = MetaData()

structures = Table(
    "structures", metadata,
    Column("id", Integer, primary_key=True),
    Column("hash", String(64), nullable=False, unique=True),  # see esml.data.records.structure_hash
    Column("nsites", Integer, nullable=False, index=True),
    Column("nelements", Integer, nullable=False, index=True),
    Column("elements", String(400), nullable=False),  # sorted symbols joined by ","
    Column("formula_reduced", String(200), nullable=False, index=True),
    Column("formula_hill", String(200), nullable=False),
    Column("formula_anonymous", String(200), nullable=False, index=True),
    Column("nperiodic", Integer, nullable=False, index=True),
    Column("pbc", Integer, nullable=False),  # bit i set when lattice vector i is periodic
    Column("numbers", LargeBinary, nullable=False),
    Column("positions", LargeBinary, nullable=False),
    Column("cell", LargeBinary, nullable=True),
    Column("created", DateTime(timezone=True), nullable=False),
)

# One row per (element, structure): `elements HAS ALL "C","O"` becomes indexed EXISTS lookups.
structure_elements = Table(
    "structure_elements", metadata,
    Column("element", String(3), primary_key=True),
    Column("structure_id", Integer, ForeignKey("structures.id", ondelete="CASCADE"), primary_key=True),
    # The reverse order serves `HAS ONLY` (NOT EXISTS an element outside the list, per structure).
    Index("ix_structure_elements_structure", "structure_id", "element"),
)

sources = Table(
    "sources", metadata,
    Column("id", Integer, primary_key=True),
    Column("sha256", String(64), nullable=False, unique=True),  # a re-ingested file is recognised by content
    Column("path", Text, nullable=False),
    Column("parser", String(100), nullable=False),  # e.g. "ase.io:vasp-xml", "pymatgen:qchem", "esml:qm9pack"
    Column("n_frames", Integer, nullable=False),
    Column("esml_version", String(40), nullable=False),
    Column("ingested", DateTime(timezone=True), nullable=False),
)

calculations = Table(
    "calculations", metadata,
    Column("id", Integer, primary_key=True),
    Column("hash", String(64), nullable=False, unique=True),  # see esml.data.records.calculation_hash
    Column("structure_id", Integer, ForeignKey("structures.id", ondelete="CASCADE"), nullable=False, index=True),
    Column("source_id", Integer, ForeignKey("sources.id", ondelete="SET NULL"), nullable=True, index=True),
    Column("frame", Integer, nullable=True),  # index of the frame inside its source file
    Column("code", String(100), nullable=False, index=True),
    Column("code_version", String(100), nullable=True),
    Column("method", String(200), nullable=True, index=True),  # "functional/basis" or "gfn2-xtb", lower case
    Column("functional", String(100), nullable=True),
    Column("basis", String(100), nullable=True),
    Column("dispersion", String(40), nullable=True),
    Column("charge", Integer, nullable=True),
    Column("multiplicity", Integer, nullable=True),
    Column("settings", JSON, nullable=False),
    Column("energy", Float, nullable=True, index=True),  # eV
    Column("band_gap", Float, nullable=True),  # eV
    Column("forces", LargeBinary, nullable=True),
    Column("stress", LargeBinary, nullable=True),
    Column("dipole", LargeBinary, nullable=True),
    Column("charges", LargeBinary, nullable=True),
    Column("properties", JSON, nullable=False),  # other scalars, in eV/Å/e-derived units named by key suffix
    Column("original_units", JSON, nullable=False),  # e.g. {"energy": "Hartree", "forces": "Hartree/Bohr"}
    Column("created", DateTime(timezone=True), nullable=False),
)

datasets = Table(
    "datasets", metadata,
    Column("id", Integer, primary_key=True),
    Column("name", String(100), nullable=False, unique=True),
    Column("description", Text, nullable=False),
    Column("definition", Text, nullable=False),  # the filter (or import) that chose the members
    Column("split_seed", Integer, nullable=False),
    Column("split_fractions", JSON, nullable=False),  # {"train": 0.8, "validation": 0.1, "test": 0.1}
    Column("created", DateTime(timezone=True), nullable=False),
)

# The split is stored per member, so a training run a year later sees the same test set.
dataset_members = Table(
    "dataset_members", metadata,
    Column("dataset_id", Integer, ForeignKey("datasets.id", ondelete="CASCADE"), primary_key=True),
    Column("calculation_id", Integer, ForeignKey("calculations.id", ondelete="CASCADE"), primary_key=True),
    Column("split", String(12), nullable=False),
    Index("ix_dataset_members_calculation", "calculation_id"),
    Index("ix_dataset_members_split", "dataset_id", "split"),
)

# A model fitted on stored calculations: which ones it learned from, how it scored, and what was
# decided with it. ``esml learn`` writes one row per round and one for the model it saves; the
# weights stay in their file (a GP's are tens of MB), named here with their digest.
models = Table(
    "models", metadata,
    Column("id", Integer, primary_key=True),
    Column("name", String(200), nullable=False, unique=True),  # "learn:RUN/round-3", "learn:RUN/final"
    Column("kind", String(40), nullable=False),  # the potential's family: gp, delta, ani, ...
    Column("training_ids", JSON, nullable=False),  # calculations.id of its training frames
    Column("record", JSON, nullable=False),  # hyperparameters, validation errors, the round's decisions
    Column("file", Text, nullable=True),
    Column("sha256", String(64), nullable=True),  # of that file
    Column("esml_version", String(40), nullable=False),
    Column("created", DateTime(timezone=True), nullable=False),
)
