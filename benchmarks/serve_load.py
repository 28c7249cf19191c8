"""OPTIMADE server under load: `esml serve` over QM9 plus crystals, hit on loopback by concurrent clients.

    python benchmarks/serve_load.py [--requests 2000] [--clients 32] [--workers 1] [--db URL]
                                    [--out benchmarks/results/serve_load.json]

The store (all 130,831 QM9 molecules and 12 crystals) is built once in a temporary SQLite file, or
taken from --db (a PostgreSQL URL, say; it is filled when it holds no QM9 yet). The server is the
real CLI in a subprocess; the clients are threads with their own HTTP sessions, each request drawn
from a fixed mix of filters, sorts, pages, single entries and info. Recorded: throughput, p50/p90/
p99 latency overall and per kind, the latency of each kind with one client (the service time,
without queueing), the status codes (any 5xx is a failure), and the official validator's result
on the same server. Client and server share the machine's cores.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import random
import socket
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from datetime import date
from pathlib import Path

import numpy as np
import requests
from ase.build import bulk

from esml.data.bundled import import_bundled
from esml.data.query import count
from esml.data.records import Record
from esml.data.store import open_store
from esml.data.write import write_records

CRYSTALS = [("Si", "diamond", 5.43), ("Ge", "diamond", 5.66), ("C", "diamond", 3.57), ("NaCl", "rocksalt", 5.64),
            ("MgO", "rocksalt", 4.21), ("LiF", "rocksalt", 4.03), ("GaAs", "zincblende", 5.65),
            ("ZnS", "zincblende", 5.41), ("Cu", "fcc", 3.61), ("Al", "fcc", 4.05), ("Fe", "bcc", 2.87), ("W", "bcc", 3.16)]
# (kind, path, params): what a client asks, in the proportions listed.
MIX = [
    ("elements", "structures", {"filter": 'elements HAS ALL "C","N","O" AND nsites < 12'}),
    ("elements-only", "structures", {"filter": 'elements HAS ONLY "C","H"'}),
    ("formula", "structures", {"filter": 'chemical_formula_reduced = "C7H10O2"'}),
    ("anonymous", "structures", {"filter": 'chemical_formula_anonymous = "A2B"'}),
    ("range", "structures", {"filter": "nsites >= 15 AND nsites <= 17 AND nelements = 3"}),
    ("json-property", "structures", {"filter": "_esml_gap > 10", "response_fields": "_esml_properties,chemical_formula_reduced"}),
    ("sorted", "structures", {"filter": 'elements HAS "F"', "sort": "-_esml_energy", "page_limit": 10}),
    ("deep-page", "structures", {"page_offset": 100000, "page_limit": 50}),
    ("crystals", "structures", {"filter": "nperiodic_dimensions = 3"}),
    ("fuzzy", "structures", {"filter": 'chemical_formula_hill STARTS WITH "C9H"'}),
    ("bad-filter", "structures", {"filter": "nsites < "}),  # a 400, as a client's typo
    ("single", "structures/{id}", {}),
    ("info", "info/structures", {}),
    ("references", "references", {"filter": 'year > "2015"'}),
]


def build_store(db: str | None):
    store = open_store(db)
    if count(store, '_esml_dataset HAS "qm9"') == 0:
        start = time.perf_counter()
        import_bundled(store, "qm9")
        print(f"QM9 imported in {time.perf_counter() - start:.0f} s", flush=True)
    if count(store, "nperiodic_dimensions = 3") == 0:
        crystals = [bulk(name, structure, a=a) for name, structure, a in CRYSTALS]
        write_records(store, [Record(atoms=atoms, code="ase", method=None) for atoms in crystals])
    return store


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def start_server(url: str, port: int, workers: int, timeout: float) -> subprocess.Popen:
    esml = Path(sys.executable).with_name("esml")
    server = subprocess.Popen([str(esml), "serve", "--db", url, "--port", str(port), "--workers", str(workers),
                               "--timeout", str(timeout)], stdout=subprocess.DEVNULL)
    for _ in range(300):
        try:
            requests.get(f"http://127.0.0.1:{port}/v1/info", timeout=1)
            return server
        except requests.ConnectionError:
            time.sleep(0.1)
    server.kill()
    raise RuntimeError("esml serve did not start")


def run_clients(base: str, n_requests: int, n_clients: int, max_id: int, seed: int) -> list[dict]:
    rng = random.Random(seed)
    plan = [(rng.choice(MIX), rng.randint(1, max_id)) for _ in range(n_requests)]
    results: list[dict] = []
    lock = threading.Lock()
    cursor = iter(range(n_requests))

    def client() -> None:
        with requests.Session() as session:
            while True:
                with lock:
                    index = next(cursor, None)
                if index is None:
                    return
                (kind, path, params), entry_id = plan[index]
                start = time.perf_counter()
                response = session.get(f"{base}/{path.format(id=entry_id)}", params=params, timeout=120)
                response.content
                elapsed = time.perf_counter() - start
                with lock:
                    results.append({"kind": kind, "status": response.status_code, "seconds": elapsed})

    threads = [threading.Thread(target=client) for _ in range(n_clients)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return results


def percentiles(seconds: list[float]) -> dict:
    values = np.asarray(seconds) * 1000
    return {"p50_ms": float(np.percentile(values, 50)), "p90_ms": float(np.percentile(values, 90)),
            "p99_ms": float(np.percentile(values, 99)), "max_ms": float(values.max()), "n": len(values)}


def validate(base: str) -> dict:
    from optimade.validator import ImplementationValidator

    validator = ImplementationValidator(base_url=base, run_optional_tests=True, verbosity=-1)
    validator.validate_implementation()
    results = validator.results
    return {"valid": bool(validator.valid), "passed": results.success_count, "failed": results.failure_count,
            "optional_passed": results.optional_success_count, "optional_failed": results.optional_failure_count,
            "internal_failures": results.internal_failure_count}


def plot(results: list[dict], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    kinds = sorted({r["kind"] for r in results})
    figure, axis = plt.subplots(figsize=(8, 4.5))
    axis.boxplot([[r["seconds"] * 1000 for r in results if r["kind"] == kind] for kind in kinds], orientation="horizontal",
                 tick_labels=kinds, showfliers=True)
    axis.set_xscale("log")
    axis.set_xlabel("latency (ms), 32 concurrent clients")
    axis.set_title("esml serve under load: latency per request kind")
    figure.tight_layout()
    figure.savefig(path, dpi=120)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=2000)
    parser.add_argument("--clients", type=int, default=32)
    parser.add_argument("--workers", type=int, default=1)
    parser.add_argument("--timeout", type=float, default=10.0, help="the server's per-query deadline (s)")
    parser.add_argument("--db", default=None, help="store URL; default: a temporary SQLite file")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", type=Path, default=Path("benchmarks/results/serve_load.json"))
    args = parser.parse_args()

    with tempfile.TemporaryDirectory() as scratch:
        db = args.db or str(Path(scratch) / "store.db")
        store = build_store(db)
        n_entries = count(store)
        port = free_port()
        server = start_server(db, port, args.workers, args.timeout)
        base = f"http://127.0.0.1:{port}/v1"
        try:
            run_clients(base, 50, 4, n_entries, seed=args.seed + 1)  # warm caches and connections
            unloaded = run_clients(base, 20 * len(MIX), 1, n_entries, seed=args.seed + 2)  # one client: service time
            start = time.perf_counter()
            results = run_clients(base, args.requests, args.clients, n_entries, seed=args.seed)
            wall = time.perf_counter() - start
            validation = validate(base)
        finally:
            server.terminate()
            server.wait(30)

    statuses = Counter(r["status"] for r in results)
    report = {
        "benchmark": "serve_load", "date": date.today().isoformat(), "machine": f"{platform.machine()}, {os.cpu_count()} cores",
        "backend": store.dialect, "entries": n_entries, "requests": len(results), "clients": args.clients,
        "server_workers": args.workers, "wall_s": wall, "throughput_rps": len(results) / wall,
        "status_codes": {str(code): n for code, n in sorted(statuses.items())},
        "server_errors_5xx": sum(n for code, n in statuses.items() if code >= 500),
        "latency": percentiles([r["seconds"] for r in results]),
        "latency_by_kind": {kind: percentiles([r["seconds"] for r in results if r["kind"] == kind])
                            for kind in sorted({r["kind"] for r in results})},
        "latency_one_client_by_kind": {kind: percentiles([r["seconds"] for r in unloaded if r["kind"] == kind])
                                       for kind in sorted({r["kind"] for r in unloaded})},
        "validator": validation,
        "command": "python " + " ".join(sys.argv),
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(report, indent=1) + "\n")
    plot(results, args.out.with_suffix(".png"))
    latency = report["latency"]
    print(f"{report['requests']} requests, {args.clients} clients, {report['throughput_rps']:.0f} req/s; "
          f"p50 {latency['p50_ms']:.0f} ms, p99 {latency['p99_ms']:.0f} ms; 5xx {report['server_errors_5xx']}; "
          f"validator {validation['passed']} passed, {validation['failed']} failed, "
          f"optional {validation['optional_passed']}/{validation['optional_passed'] + validation['optional_failed']}")


if __name__ == "__main__":
    main()
