"""Store benchmark: QM9 import time, ingest throughput, query latency (SQLite and PostgreSQL), size per entry.

    python benchmarks/store.py [--postgres URL] [--out benchmarks/results/store.json]

PostgreSQL is measured when --postgres (or $ESML_TEST_POSTGRES) names a server; the benchmark makes
and drops its own database there.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import statistics
import tempfile
import time
from datetime import date
from pathlib import Path

import ase
import sqlalchemy as sa

from esml.data.bundled import import_bundled
from esml.data.ingest import ingest
from esml.data.query import count, query
from esml.data.store import open_store

FILTERS = {
    "indexed: nsites < 10 AND elements HAS ALL C,O": 'elements HAS ALL "C","O" AND nsites<10',
    "indexed: formula": 'chemical_formula_reduced="C7H10O2"',
    "set: elements HAS ONLY C,H": 'elements HAS ONLY "C","H"',
    "method AND nelements": '_esml_method="b3lyp/6-31g(2df,p)" AND nelements=4',
    "JSON property: _esml_gap > 10": "_esml_gap > 10",
}
REPEATS = 30
PAGE = 100


def time_queries(store) -> dict:
    results = {}
    for label, text in FILTERS.items():
        query(store, text, limit=PAGE)  # warm the cache once
        page, total = [], []
        for _ in range(REPEATS):
            start = time.perf_counter()
            query(store, text, limit=PAGE)
            page.append(time.perf_counter() - start)
        for _ in range(5):
            start = time.perf_counter()
            matches = count(store, text)
            total.append(time.perf_counter() - start)
        page.sort()
        results[label] = {"filter": text, "matches": matches, "page_size": PAGE,
                          "page_p50_ms": 1000 * statistics.median(page), "page_p99_ms": 1000 * page[int(0.99 * (len(page) - 1))],
                          "count_p50_ms": 1000 * statistics.median(total)}
    return results


def measure_backend(url: str) -> dict:
    store = open_store(url)
    start = time.perf_counter()
    summary = import_bundled(store, "qm9")
    import_s = time.perf_counter() - start
    with store.engine.connect() as connection:
        n = connection.execute(sa.text("SELECT count(*) FROM calculations")).scalar()
        if store.dialect == "postgresql":
            connection.execute(sa.text("ANALYZE"))
            size = connection.execute(sa.text("SELECT pg_database_size(current_database())")).scalar()
        else:
            connection.execute(sa.text("PRAGMA wal_checkpoint(TRUNCATE)"))
            size = Path(store.engine.url.database).stat().st_size
    result = {"qm9_import_s": import_s, "entries": n, "split": summary.sizes, "bytes_per_entry": size / n,
              "queries": time_queries(store)}
    store.engine.dispose()
    return result


def measure_ingest(workdir: Path) -> dict:
    testdata = Path(ase.__file__).parent / "test" / "testdata"
    store = open_store(str(workdir / "ingest.db"))
    start = time.perf_counter()
    report = ingest(store, [testdata])
    seconds = time.perf_counter() - start
    return {"files": report.files_seen, "parsed": report.parsed, "skipped": len(report.skipped),
            "frames_added": report.frames_added, "seconds": seconds, "files_per_s": report.files_seen / seconds}


def postgres_database(server: str):
    name = f"esml_bench_{os.getpid()}"
    admin = sa.create_engine(server, isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        connection.execute(sa.text(f"DROP DATABASE IF EXISTS {name}"))
        connection.execute(sa.text(f"CREATE DATABASE {name}"))
    return admin, name, sa.engine.make_url(server).set(database=name).render_as_string(hide_password=False)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--postgres", default=os.environ.get("ESML_TEST_POSTGRES"))
    parser.add_argument("--out", type=Path, default=Path("benchmarks/results/store.json"))
    args = parser.parse_args()
    workdir = Path(tempfile.mkdtemp(prefix="esml-bench-"))
    result = {"date": str(date.today()), "machine": f"{platform.node()} ({os.cpu_count()} cores)",
              "ingest_ase_testdata": measure_ingest(workdir),
              "sqlite": measure_backend(str(workdir / "qm9.db"))}
    print(json.dumps(result["sqlite"], indent=1), flush=True)
    if args.postgres:
        admin, name, url = postgres_database(args.postgres)
        try:
            result["postgresql"] = measure_backend(url)
        finally:
            with admin.connect() as connection:
                connection.execute(sa.text(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
    shutil.rmtree(workdir)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=1) + "\n")
    print(json.dumps(result, indent=1))


if __name__ == "__main__":
    main()
