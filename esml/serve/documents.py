"""Store rows as OPTIMADE structures: the standard fields and esml's ``_esml_`` ones.

Positions and cells are in Å (OPTIMADE's unit too); energies eV, forces eV/Å, stress eV/Å³,
dipoles e·Å, charges e, as stored. Field names are the store's; the OPTIMADE mapper adds the
``_esml_`` prefix to the provider fields listed in ``PROVIDER_FIELDS``.
"""

from __future__ import annotations

from collections import Counter
from datetime import timezone

import numpy as np
import sqlalchemy as sa

from esml.data.query import frame_from_row
from esml.data.schema import dataset_members, datasets


def _field(name: str, type_: str, description: str, unit: str | None = None, sortable: bool = False) -> dict:
    described = {"name": name, "type": type_, "description": description, "sortable": sortable}
    return described | ({"unit": unit} if unit else {})


PROVIDER_FIELDS = [
    _field("code", "string", "Program that computed the entry (pyscf, xtb, VASP, …).", sortable=True),
    _field("code_version", "string", "Version of that program, when known.", sortable=True),
    _field("method", "string", "Method as esml writes it: 'functional/basis' or 'gfn2-xtb', lower case.", sortable=True),
    _field("functional", "string", "Exchange-correlation functional or Hamiltonian.", sortable=True),
    _field("basis", "string", "Basis set, for Gaussian-basis codes.", sortable=True),
    _field("dispersion", "string", "Dispersion correction (d3bj, d4, …).", sortable=True),
    _field("charge", "integer", "Total charge.", "e", sortable=True),
    _field("multiplicity", "integer", "Spin multiplicity 2S+1.", sortable=True),
    _field("energy", "float", "Total energy.", "eV", sortable=True),
    _field("energy_per_atom", "float", "Total energy divided by the number of sites.", "eV", sortable=True),
    _field("band_gap", "float", "Band gap (HOMO-LUMO gap for molecules).", "eV", sortable=True),
    _field("source", "string", "Where the entry came from: the ingested file, or the bundled set (qm9[0:300]).", sortable=True),
    _field("frame", "integer", "Index of the frame inside its source file.", sortable=True),
    _field("forces", "list", "Force on each site, in site order.", "eV/Å"),
    _field("stress", "list", "Stress in Voigt order xx yy zz yz xz xy.", "eV/Å^3"),
    _field("dipole", "list", "Dipole moment vector.", "e*Å"),
    _field("charges", "list", "Partial charge of each site.", "e"),
    _field("dataset", "list", "Names of the esml datasets holding this entry."),
    _field("properties", "dictionary", "Further scalars of the calculation, named with their unit suffix (homo_eV, …)."),
]
SCALAR_COLUMNS = ("code", "code_version", "method", "functional", "basis", "dispersion", "charge",
                  "multiplicity", "energy", "band_gap", "frame")
ARRAY_RESULTS = ("forces", "stress", "dipole", "charges")


def dataset_names(connection, calculation_ids: list[int]) -> dict[int, list[str]]:
    """The datasets of each calculation on a page, in one query."""
    rows = connection.execute(
        sa.select(dataset_members.c.calculation_id, datasets.c.name)
        .join(datasets, datasets.c.id == dataset_members.c.dataset_id)
        .where(dataset_members.c.calculation_id.in_(calculation_ids)).order_by(datasets.c.name))
    names: dict[int, list[str]] = {}
    for calculation_id, name in rows:
        names.setdefault(calculation_id, []).append(name)
    return names


def structure_document(row, datasets_of_entry: list[str]) -> dict:
    """One OPTIMADE structure (before the mapper nests it under ``attributes``), from a row of
    the store's entries query, decoded the way ``esml query`` decodes it."""
    frame = frame_from_row(row)
    symbols = frame.get_chemical_symbols()
    elements = row.elements.split(",")
    counts = Counter(symbols)
    periodic = [int(p) for p in frame.pbc]
    n_sites = row.nsites
    results = frame.calc.results if frame.calc is not None else {}
    document = {
        "id": str(row.id),
        "immutable_id": row.hash,
        "last_modified": row.created.replace(tzinfo=timezone.utc) if row.created.tzinfo is None else row.created,
        "elements": elements,
        "nelements": row.nelements,
        "elements_ratios": [counts[element] / n_sites for element in elements],
        "chemical_formula_descriptive": row.formula_hill,
        "chemical_formula_reduced": row.formula_reduced,
        "chemical_formula_hill": row.formula_hill,
        "chemical_formula_anonymous": row.formula_anonymous,
        "dimension_types": periodic,
        "nperiodic_dimensions": row.nperiodic,
        # OPTIMADE wants nulls for a vector along a non-periodic direction
        "lattice_vectors": [vector.tolist() if periodic[axis] else [None, None, None]
                            for axis, vector in enumerate(frame.cell.array)] if any(periodic) else None,
        "cartesian_site_positions": frame.positions.tolist(),
        "nsites": n_sites,
        "species": [{"name": element, "chemical_symbols": [element], "concentration": [1.0]} for element in elements],
        "species_at_sites": symbols,
        "structure_features": [],
        "energy_per_atom": row.energy / n_sites if row.energy is not None else None,
        "source": row.source_path,
        "dataset": datasets_of_entry,
        "properties": row.properties,
        **{name: getattr(row, name) for name in SCALAR_COLUMNS},
        **{name: np.asarray(results[name]).tolist() for name in ARRAY_RESULTS if name in results},
    }
    return {key: value for key, value in document.items() if value is not None}
