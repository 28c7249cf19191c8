"""Shared by every speed measurement, esml's and the peers' (each runs in its own venv):
energy + forces through an ASE calculator, positions nudged before every call so nothing is
cached, median over calls after a warm-up. Kept free of esml imports on purpose."""

import json
import sys
import time

import ase.io
import numpy as np
import torch


def median_ms(calculator, atoms, calls: int, warmup: int = 5) -> float:
    atoms = atoms.copy()
    atoms.calc = calculator
    rng = np.random.default_rng(0)
    times = []
    for call in range(warmup + calls):
        atoms.positions += rng.normal(scale=1e-3, size=atoms.positions.shape)
        start = time.perf_counter()
        atoms.get_forces()
        if call >= warmup:
            times.append(time.perf_counter() - start)
    return 1000 * float(np.median(times))


def time_models(models: dict, systems_path: str, threads_list, calls: int) -> dict:
    """models: name -> zero-argument function returning an ASE calculator."""
    systems = ase.io.read(systems_path, ":")
    results = {}
    for threads in threads_list:
        torch.set_num_threads(threads)
        for name, make in models.items():
            calculator = make()
            results.setdefault(name, {})[f"{threads}_threads"] = {
                str(len(atoms)): median_ms(calculator, atoms, calls) for atoms in systems
            }
    return results


def main(models: dict) -> None:
    """argv: SYSTEMS.xyz THREADS(comma list) CALLS; prints JSON."""
    systems_path, threads, calls = sys.argv[1], [int(t) for t in sys.argv[2].split(",")], int(sys.argv[3])
    print(json.dumps(time_models(models, systems_path, threads, calls)))
