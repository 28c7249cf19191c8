"""The esml store: schema, backends, ingestion, query, datasets and export.

    from esml.data import open_store, ingest, query
    store = open_store("esml.db")                      # or postgresql+psycopg://user@host/db
    ingest(store, [Path("runs/")])                     # VASP, QE, Gaussian, ORCA, FHI-aims, CASTEP, extxyz, ...
    frames = query(store, 'elements HAS "O" AND _esml_energy IS KNOWN')   # ase.Atoms with results
"""

from esml.data.datasets import create_dataset, dataset_from_filter, list_datasets
from esml.data.ingest import ingest
from esml.data.query import count, query
from esml.data.store import Store, open_store
from esml.data.write import write_records

__all__ = ["Store", "count", "create_dataset", "dataset_from_filter", "ingest", "list_datasets", "open_store",
           "query", "write_records"]
