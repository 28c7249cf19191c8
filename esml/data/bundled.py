"""Benchmark data sets that come with esml's dependencies, imported into the store offline.

- ``qm9``: 130,831 molecules, B3LYP/6-31G(2df,p) (Ramakrishnan et al., Sci. Data 1, 140022, 2014),
  read from the CSV files inside the ``qm9pack`` wheel (``import qm9pack`` itself is not used: it
  needs pkg_resources). ``energy`` is U0; the other properties are stored under these names, in
  these units: homo, lumo, gap, zpve, u0, u298, h298, g298 (eV); mu (e·Å); alpha (Å³); r2 (Å²);
  rot_a, rot_b, rot_c (GHz); cv (cal/mol/K). Mulliken charges go to ``charges``.
- ``qm7``: 7,101 molecules with PBE0 atomisation energies (Rupp et al., PRL 108, 058301, 2012), from
  the qmllib source distribution, carried in esml as ``bundled/qm7.xyz.gz``; stored as the property
  ``atomization_energy`` (eV), with no total energy.

A science package offers its own reference set as a :class:`BundledSet` (``esml.functionals.g2``:
the G2 energies its functionals train on); the store knows none of them.
"""

from __future__ import annotations

import csv
import importlib.util
import json
import sys
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from ase import Atoms

from esml import units
from esml.data.datasets import DatasetSummary, create_dataset, list_datasets
from esml.data.records import Record
from esml.data.store import Store, StoreError
from esml.data.write import Source, write_records

QM7_FILE = Path(__file__).parent / "bundled" / "qm7.xyz.gz"
BATCH = 20000

HA = units.HARTREE_TO_EV
# CSV column -> (stored name, factor to esml units)
QM9_PROPERTIES = {
    "RotA_GHz": ("rot_a", 1.0), "RotB_GHz": ("rot_b", 1.0), "RotC_GHz": ("rot_c", 1.0),
    "Dipole_debye": ("mu", units.DEBYE_TO_E_ANGSTROM),
    "Polarizability_bohr3": ("alpha", units.BOHR_TO_ANGSTROM**3),
    "HOMO_au": ("homo", HA), "LUMO_au": ("lumo", HA), "HOMO_LUMO_gap_au": ("gap", HA),
    "R2_bohr2": ("r2", units.BOHR_TO_ANGSTROM**2), "ZPVE_au": ("zpve", HA),
    "InternalEnergy_0K_au": ("u0", HA), "InternalEnergy_298K_au": ("u298", HA),
    "Enthalphy_298K_au": ("h298", HA), "GibbsFreeEnergy_298K_au": ("g298", HA),
    "Heatcapacity_Cv_cal_mol_K": ("cv", 1.0),
}
QM9_UNITS = {"energy": "Hartree", "homo": "Hartree", "mu": "Debye", "alpha": "Bohr^3", "r2": "Bohr^2"}


def qm9_files() -> list[Path]:
    spec = importlib.util.find_spec("qm9pack")
    if spec is None or not spec.submodule_search_locations:
        raise StoreError("QM9 needs the qm9pack package: pip install qm9pack")
    folder = Path(spec.submodule_search_locations[0]) / "data"
    return [folder / f"qm9_part{i}.csv" for i in (1, 2, 3)]


def qm9_records(limit: int | None = None) -> Iterator[Record]:
    csv.field_size_limit(sys.maxsize)
    n = 0
    for path in qm9_files():
        with open(path, newline="") as stream:
            for row in csv.DictReader(stream):
                if limit is not None and n >= limit:
                    return
                n += 1
                yield _qm9_record(row)


def _qm9_record(row: dict) -> Record:
    symbols = json.loads(row["Elements"].replace("'", '"'))
    atoms = Atoms(symbols=symbols, positions=_numbers(row["XYZ_Ang"]).reshape(-1, 3))
    properties = {name: float(row[column]) * factor for column, (name, factor) in QM9_PROPERTIES.items()}
    return Record(
        atoms=atoms, code="Gaussian 09", method="b3lyp/6-31g(2df,p)", functional="b3lyp", basis="6-31g(2df,p)",
        charge=0, multiplicity=1, energy=properties["u0"], charges=_numbers(row["Mulliken_pop"]),
        properties={**properties, "qm9_index": int(row["Index"])}, original_units=QM9_UNITS,
    )


def _numbers(text: str) -> np.ndarray:
    # The QM9 tables write Mathematica-style numbers ("0.", "1.5*^-6"), which JSON does not accept.
    return np.array(text.replace("[", "").replace("]", "").replace("*^", "e").split(","), dtype=float)


def qm7_records(limit: int | None = None) -> Iterator[Record]:
    import gzip
    import io

    import ase.io

    # ASE's extxyz reader seeks back and forth; on a gzip stream each seek re-decompresses, so read into memory.
    text = io.StringIO(gzip.decompress(QM7_FILE.read_bytes()).decode())
    for n, atoms in enumerate(ase.io.iread(text, index=":", format="extxyz")):
        if limit is not None and n >= limit:
            return
        yield Record(
            atoms=Atoms(numbers=atoms.numbers, positions=atoms.positions), code="FHI-aims", method="pbe0",
            functional="pbe0", charge=0, multiplicity=1,
            properties={"atomization_energy": float(atoms.info["hof_col1_kcal_mol"]) * units.KCAL_PER_MOL_TO_EV,
                        "qm7_index": int(atoms.info["qm7_id"])},
            original_units={"atomization_energy": "kcal/mol"},
        )


@dataclass(frozen=True)
class BundledSet:
    """A data set esml can import offline. ``records(limit)`` yields its first ``limit`` records (all
    for None); a set whose records carry ``properties["split"]`` keeps that split."""

    records: Callable[[int | None], Iterator[Record]]
    description: str
    size: int
    own_split: bool = False


BUNDLED: dict[str, BundledSet] = {
    "qm9": BundledSet(qm9_records, "QM9: 130,831 molecules, B3LYP/6-31G(2df,p); energy = U0; see esml.data.bundled", 130831),
    "qm7": BundledSet(qm7_records, "QM7: 7,101 molecules, PBE0 atomisation energies; see esml.data.bundled", 7101),
}


def import_bundled(store: Store, name: str, *, sets: dict[str, BundledSet] = BUNDLED, limit: int | None = None,
                   seed: int = 0, on_progress: Callable[[int], None] | None = None) -> DatasetSummary:
    """Store the data set ``sets[name]`` and a dataset of the same name with a seeded 80/10/10 split
    (or the set's own)."""
    if name not in sets:
        raise StoreError(f"unknown data set {name!r}; esml bundles {', '.join(sets)}")
    bundled = sets[name]
    reader, description = bundled.records, bundled.description
    dataset_name = name if limit is None else f"{name}-{limit}"
    if dataset_name in {summary.name for summary in list_datasets(store)}:
        raise StoreError(f"dataset {dataset_name!r} is already in the store; `esml datasets delete {dataset_name}` first")
    ids: list[int] = []
    batch: list[Record] = []
    for record in reader(limit):
        batch.append(record)
        if len(batch) == BATCH:
            ids += _write_batch(store, batch, name, len(ids), on_progress)
            batch = []
    if batch:
        ids += _write_batch(store, batch, name, len(ids), on_progress)
    splits = [record.properties["split"] for record in reader(limit)] if bundled.own_split else None
    return create_dataset(store, dataset_name, ids, description=description, definition=f"esml datasets import {name}",
                          seed=seed, splits=splits)


def _write_batch(store, batch, name, start, on_progress) -> list[int]:
    source = Source(path=f"{name}[{start}:{start + len(batch)}]", sha256=_batch_digest(batch), parser=f"esml:{name}")
    result = write_records(store, batch, source)
    if on_progress:
        on_progress(len(batch))
    return result.calculation_ids


def _batch_digest(batch: list[Record]) -> str:
    import hashlib

    digest = hashlib.sha256()
    for record in batch:
        digest.update(record.atoms.positions.tobytes())
    return digest.hexdigest()
