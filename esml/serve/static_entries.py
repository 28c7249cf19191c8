"""Entries that live in code, not in the store: the references that esml's data cites, and the
links to other OPTIMADE databases.

They are few and fixed, so each is a constant SQL table: filters on them go through the same
OPTIMADE-to-SQL translation as structures, on the same database connection.
"""

from __future__ import annotations

from datetime import datetime, timezone

import sqlalchemy as sa

from esml.data.filter import Property, Vocabulary

ADDED = datetime(2026, 11, 24, tzinfo=timezone.utc)  # when these entries were written

# The programs and data sets behind what esml stores, and the standard it serves.
REFERENCES = [
    {"id": "pyscf", "bib_type": "article", "title": "Recent developments in the PySCF program package",
     "authors": ["Qiming Sun"], "note": "and 45 co-authors, cite for pyscf calculations",
     "journal": "J. Chem. Phys.", "volume": "153", "pages": "024109", "year": "2020", "doi": "10.1063/5.0006074"},
    {"id": "gfn2-xtb", "bib_type": "article",
     "title": "GFN2-xTB: An accurate and broadly parametrized self-consistent tight-binding quantum chemical "
              "method with multipole electrostatics and density-dependent dispersion contributions",
     "authors": ["Christoph Bannwarth", "Sebastian Ehlert", "Stefan Grimme"],
     "note": "cite for gfn2-xtb calculations (tblite)",
     "journal": "J. Chem. Theory Comput.", "volume": "15", "pages": "1652-1671", "year": "2019",
     "doi": "10.1021/acs.jctc.8b01176"},
    {"id": "qm9", "bib_type": "article", "title": "Quantum chemistry structures and properties of 134 kilo molecules",
     "authors": ["Raghunathan Ramakrishnan", "Pavlo O. Dral", "Matthias Rupp", "O. Anatole von Lilienfeld"],
     "note": "cite for the qm9 dataset", "journal": "Sci. Data", "volume": "1", "pages": "140022", "year": "2014",
     "doi": "10.1038/sdata.2014.22"},
    {"id": "qm7", "bib_type": "article",
     "title": "Fast and accurate modeling of molecular atomization energies with machine learning",
     "authors": ["Matthias Rupp", "Alexandre Tkatchenko", "Klaus-Robert Müller", "O. Anatole von Lilienfeld"],
     "note": "cite for the qm7 dataset", "journal": "Phys. Rev. Lett.", "volume": "108", "pages": "058301",
     "year": "2012", "doi": "10.1103/PhysRevLett.108.058301"},
    {"id": "optimade", "bib_type": "article", "title": "OPTIMADE, an API for exchanging materials data",
     "authors": ["Casper W. Andersen"], "note": "and 64 co-authors, the API this server speaks",
     "journal": "Sci. Data", "volume": "8", "pages": "217", "year": "2021", "doi": "10.1038/s41597-021-00974-z"},
    {"id": "ml-electronic-structure-roadmap", "bib_type": "article",
     "title": "Roadmap on machine learning in electronic structure",
     "authors": ["Heather J. Kulik"], "note": "and co-authors, the programme esml follows",
     "journal": "Electron. Struct.", "volume": "4", "pages": "023004", "year": "2022",
     "doi": "10.1088/2516-1075/ac572f"},
]
REFERENCE_TEXT_FIELDS = ("bib_type", "title", "note", "journal", "volume", "pages", "year", "doi")

LINKS = [
    {"id": "optimade-providers", "name": "OPTIMADE providers",
     "description": "The list of OPTIMADE providers, where clients find other databases to query.",
     "base_url": "https://providers.optimade.org", "homepage": "https://www.optimade.org",
     "link_type": "providers", "aggregate": "ok"},
]
LINK_TEXT_FIELDS = ("name", "description", "base_url", "homepage", "link_type", "aggregate")


def _constant_table(name: str, text_fields: tuple[str, ...], rows: list[dict]) -> sa.Subquery:
    """The rows as a subquery of literal SELECTs joined by UNION ALL (SQLite cannot name the
    columns of a VALUES list); every value is a bound parameter."""
    def select_row(row: dict) -> sa.Select:
        columns = [sa.literal(row["id"], sa.String).label("id"),
                   *(sa.literal(row.get(field), sa.String).label(field) for field in text_fields),
                   sa.literal(ADDED, sa.DateTime(timezone=True)).label("last_modified")]
        return sa.select(*columns)

    return sa.union_all(*(select_row(row) for row in rows)).subquery(name)


def _vocabulary(table: sa.Subquery, text_fields: tuple[str, ...], served: frozenset[str]) -> Vocabulary:
    scalars = {"id": Property(table.c.id, "string"), "last_modified": Property(table.c.last_modified, "timestamp")}
    scalars |= {field: Property(table.c[field], "string") for field in text_fields}
    return Vocabulary(scalars=scalars, served=served)


REFERENCES_TABLE = _constant_table("esml_references", REFERENCE_TEXT_FIELDS, REFERENCES)
REFERENCES_VOCABULARY = _vocabulary(REFERENCES_TABLE, REFERENCE_TEXT_FIELDS, frozenset({"authors", "editors"}))
LINKS_TABLE = _constant_table("esml_links", LINK_TEXT_FIELDS, LINKS)
LINKS_VOCABULARY = _vocabulary(LINKS_TABLE, LINK_TEXT_FIELDS, frozenset())


def reference_documents(rows) -> list[dict]:
    by_id = {entry["id"]: entry for entry in REFERENCES}
    return [_document(row, REFERENCE_TEXT_FIELDS) | {"authors": [{"name": name} for name in by_id[row.id]["authors"]]}
            for row in rows]


def link_documents(rows) -> list[dict]:
    # The links mapper reads the entry type from the document (links may be of other types).
    return [_document(row, LINK_TEXT_FIELDS) | {"type": "links"} for row in rows]


def _document(row, text_fields: tuple[str, ...]) -> dict:
    document = {"id": row.id, "last_modified": ADDED, **{field: getattr(row, field) for field in text_fields}}
    return {key: value for key, value in document.items() if value is not None}
