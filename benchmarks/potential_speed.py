"""Inference speed of esml's potentials against TorchANI and MACE, side by side in one run.

    python benchmarks/potential_speed.py [--calls 50] [--threads 1,2] [--out FILE]

Energy + forces through each code's own ASE calculator, untrained models of standard size,
median ms per call for 9 (ethanol), 21 (aspirin) and 192 atoms (a 64-water cluster, no cell),
at 1 and 2 torch threads. Peers run in their own venvs (`make peers`) with the same timing code
(benchmarks/peers/timing.py). Writes JSON (default benchmarks/results/potential_speed.json).
"""

from __future__ import annotations

import argparse
import json
import platform
import sys
import tempfile
from datetime import date
from pathlib import Path

import ase.io
import numpy as np
import torch
from ase import Atoms
from ase.build import molecule

sys.path.insert(0, str(Path(__file__).parent / "peers"))
from peer_envs import run_peer  # noqa: E402
from timing import time_models  # noqa: E402

from esml.calculator import PotentialCalculator  # noqa: E402
from esml.potentials import ANIPotential, PaiNNPotential  # noqa: E402
from esml.potentials.mace import MACEPotential  # noqa: E402

DATA = Path(__file__).parent / "data"


def systems() -> list[Atoms]:
    water, cluster = molecule("H2O"), Atoms()
    rng = np.random.default_rng(0)
    for corner in np.array([(x, y, z) for x in range(4) for y in range(4) for z in range(4)]) * 3.1:
        copy = water.copy()
        copy.rotate(rng.uniform(0, 360), rng.normal(size=3))
        copy.translate(corner)
        cluster += copy
    return [molecule("CH3CH2OH"), ase.io.read(DATA / "aspirin-start.xyz"), cluster]


def esml_models() -> dict:
    def make(build):
        def calculator():
            torch.manual_seed(0)
            return PotentialCalculator(build())
        return calculator

    return {
        "esml ANI (H,C,O), 1 network": make(lambda: ANIPotential([1, 6, 8])),
        "esml ANI (H,C,O), 4-member ensemble": make(lambda: ANIPotential([1, 6, 8], members=4)),
        "esml ANI (7 elements of ANI-2x), 1 network": make(lambda: ANIPotential([1, 6, 7, 8, 9, 16, 17])),
        "esml PaiNN (128 features, 3 layers)": make(lambda: PaiNNPotential([1, 6, 8])),
        "esml PaiNN (64 features, 3 layers)": make(lambda: PaiNNPotential([1, 6, 8], features=64)),
        "esml MACE (32x(0e+1o), l_max 2, correlation 3)": make(lambda: MACEPotential([1, 6, 8])),
    }


def ratios(results: dict, numerator: str, denominator: str) -> dict:
    """How many times faster ``numerator`` is than ``denominator``, per thread count and size."""
    return {threads: {n: results[denominator][threads][n] / results[numerator][threads][n] for n in sizes}
            for threads, sizes in results[numerator].items()}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--calls", type=int, default=50)
    parser.add_argument("--threads", default="1,2")
    parser.add_argument("--out", type=Path, default=Path(__file__).parent / "results" / "potential_speed.json")
    args = parser.parse_args()
    threads = [int(t) for t in args.threads.split(",")]
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "systems.xyz"
        ase.io.write(path, systems())
        results = time_models(esml_models(), str(path), threads, args.calls)
        for name, script in (("torchani", "torchani_speed.py"), ("mace", "mace_speed.py")):
            results.update(run_peer(name, script, path, args.threads, args.calls, json_stdout=True))
    report = {
        "date": date.today().isoformat(), "machine": platform.processor() or platform.machine(), "calls": args.calls,
        "ms_per_call": results,
        "speedup": {
            "esml ANI vs torchani same shape (H,C,O)": ratios(results, "esml ANI (H,C,O), 1 network", "torchani H,C,O, 1 network"),
            "esml ANI vs torchani ANI-2x (7 elements)": ratios(results, "esml ANI (7 elements of ANI-2x), 1 network", "torchani ANI-2x (7 elements), 1 network"),
            "esml PaiNN-128 vs MACE-small": ratios(results, "esml PaiNN (128 features, 3 layers)", "MACE-small (128x0e)"),
            "esml PaiNN-64 vs MACE-small": ratios(results, "esml PaiNN (64 features, 3 layers)", "MACE-small (128x0e)"),
            "esml MACE vs MACE-small": ratios(results, "esml MACE (32x(0e+1o), l_max 2, correlation 3)", "MACE-small (128x0e)"),
            "esml 4-member ANI ensemble cost vs 1 network": {
                t: {n: 1 / r for n, r in sizes.items()}
                for t, sizes in ratios(results, "esml ANI (H,C,O), 4-member ensemble", "esml ANI (H,C,O), 1 network").items()},
        },
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(report, indent=2))
    print(json.dumps(report["speedup"], indent=2))


if __name__ == "__main__":
    main()
