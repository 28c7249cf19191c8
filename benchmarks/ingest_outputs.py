"""Ingestion of real code outputs: throughput, and every stored final energy against cclib's own parse.

    python benchmarks/ingest_outputs.py [--outputs ../shared/data/outputs] [--repeats 5]
                                        [--out benchmarks/results/ingest_outputs.json]

Runs, in one process on the same files: esml ingest into a new SQLite store with 1 and 2 reading
processes, and the peer, cclib's ``ccread`` of every file (parsing only, storing nothing). Each is
timed ``--repeats`` times after one warm-up (imports); the medians are reported. Then every stored
file's last energy is compared with cclib's (ASE's for the ORCA 6 files cclib cannot read).
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import platform
import statistics
import tempfile
import time
import warnings
from datetime import date
from pathlib import Path

import ase.io
import numpy as np
from cclib.parser.utils import convertor

from esml.data.ingest import STORED, find_files, ingest
from esml.data.readers import read_records
from esml.data.store import open_store
from esml.units import HARTREE_TO_EV

NOT_OUTPUTS = ("MANIFEST.tsv", "LICENSE-cclib")


def timed_ingest(outputs: Path, workers: int) -> tuple[float, object, object]:
    store = open_store(str(Path(tempfile.mkdtemp()) / "store.db"))
    start = time.perf_counter()
    report = ingest(store, [outputs], workers=workers)
    return time.perf_counter() - start, report, store


def timed_cclib(files: list[Path]) -> float:
    import cclib

    start = time.perf_counter()
    for path in files:
        try:
            cclib.io.ccread(str(path), loglevel=logging.CRITICAL + 1)
        except Exception:  # the peer's failures are counted elsewhere; only its time matters here
            pass
    return time.perf_counter() - start


def reference_energy(path: Path, parser: str) -> float | None:
    """The file's last energy by an independent parse: cclib's highest level, or ASE's for ORCA 6."""
    import cclib

    if parser.startswith("ase.io:"):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            return ase.io.read(path, format=parser.split(":")[1]).get_potential_energy()
    data = cclib.io.ccread(str(path), loglevel=logging.CRITICAL + 1)
    for name in ("ccenergies", "mpenergies", "scfenergies"):
        values = getattr(data, name, None)
        if values is not None and len(values):
            return convertor(float(np.ravel(values[-1])[-1]), "eV", "hartree") * HARTREE_TO_EV
    return None


def energy_check(report) -> dict:
    """Each stored file's last energy as esml stores it (a frame that duplicates another file's is
    stored once, equal to 1e-6 eV) against the independent parse."""
    deviations = {}
    for outcome in report.files:
        if outcome.outcome != STORED:
            continue
        _, records = read_records(Path(outcome.path))
        expected = reference_energy(Path(outcome.path), outcome.parser)
        deviations[outcome.path] = (abs(records[-1].energy - expected), abs(expected))
    within = sum(d <= max(2e-3, 2e-7 * size) for d, size in deviations.values())
    return {"files_compared": len(deviations), "max_deviation_eV": max(d for d, _ in deviations.values()),
            "within_2meV_or_2e-7": within}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--outputs", type=Path, default=Path(__file__).resolve().parents[2] / "shared" / "data" / "outputs")
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--out", type=Path, default=Path("benchmarks/results/ingest_outputs.json"))
    args = parser.parse_args()
    files = [p for p in find_files([args.outputs]) if p.name not in NOT_OUTPUTS]
    timed_ingest(args.outputs, 1)  # warm-up: imports and cclib's parser modules
    timed_cclib(files[:5])
    times = {f"esml_ingest_{w}_workers": [timed_ingest(args.outputs, w)[0] for _ in range(args.repeats)] for w in (1, 2)}
    times["cclib_ccread_1_process"] = [timed_cclib(files) for _ in range(args.repeats)]
    _, report, _ = timed_ingest(args.outputs, 1)
    n_files = len(files) + len(NOT_OUTPUTS)
    result = {
        "date": str(date.today()), "machine": f"{platform.node()} ({os.cpu_count()} cores)",
        "command": "python benchmarks/ingest_outputs.py", "files": n_files, "outputs": len(files),
        "stored": report.parsed, "frames_added": report.frames_added, "duplicates": report.duplicates,
        "kept_apart": report.kept_apart, "skip_reasons": report.skip_reasons(),
        "median_seconds": {name: statistics.median(values) for name, values in times.items()},
        "files_per_second": {name: n_files / statistics.median(values) for name, values in times.items()},
        "energies": energy_check(report),
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=1))
    print(json.dumps({k: result[k] for k in ("stored", "files_per_second", "energies")}, indent=1))


if __name__ == "__main__":
    main()
