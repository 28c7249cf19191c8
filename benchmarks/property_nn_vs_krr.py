"""Message-passing network against kernel ridge regression on the same QM9 U0 splits.

    python benchmarks/property_nn_vs_krr.py --db QM9.db [--n-train 1000,5000] [--n-test 1000] [--minutes 10]

The network is esml's PaiNN (``esml train --model equivariant``: message passing, per-element
reference energies, AdamW, early stopping on a validation share, saved with its config), trained
on U0 alone (no forces) with a wall-clock budget per point. Its N training molecules are the same
N that ``esml learning-curve`` gives the kernel model (5 % of them held out for early stopping);
both are scored on the same test molecules. The kernel figures are read from
benchmarks/results/properties-qm9-U0.json (same splits, same seed). Writes
benchmarks/results/properties-qm9-U0-nn.json.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import tempfile
import time
from datetime import date
from pathlib import Path

from ase.calculators.singlepoint import SinglePointCalculator

from esml.data.store import open_store
from esml.properties.targets import EV_TO_KCAL, split_frames, target, values
from esml.training.config import TrainConfig
from esml.training.data import Splits
from esml.training.run import train_potential


def labeled(frames, energies):
    out = []
    for atoms, energy in zip(frames, energies):
        copy = atoms.copy()
        copy.calc = SinglePointCalculator(copy, energy=float(energy))
        out.append(copy)
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--db", required=True)
    parser.add_argument("--n-train", default="1000,5000")
    parser.add_argument("--n-test", type=int, default=1000)
    parser.add_argument("--minutes", type=float, default=10.0)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", type=Path, default=Path("benchmarks/results/properties-qm9-U0-nn.json"))
    args = parser.parse_args()

    store = open_store(args.db)
    u0 = target("qm9", "U0")
    sizes = [int(n) for n in args.n_train.split(",")]
    train = split_frames(store, "qm9", "train", max(sizes), args.seed)
    test = split_frames(store, "qm9", "test", args.n_test, args.seed)
    train, test = labeled(train, values(train, u0)), labeled(test, values(test, u0))
    kernel_curve = json.loads(Path("benchmarks/results/properties-qm9-U0.json").read_text())["curves"][0]["points"]
    kernel_mae = {p["n_train"]: p["mae"] for p in kernel_curve}
    points = []
    for n in sizes:
        n_valid = max(1, n // 20)
        splits = Splits(train=train[:n - n_valid], valid=train[n - n_valid:n], test=test)
        config = TrainConfig(force_weight=0.0, energy_weight=1.0, learning_rate=5e-4, batch_size=16,
                             max_minutes=args.minutes, seed=args.seed)
        start = time.perf_counter()
        with tempfile.TemporaryDirectory() as scratch:
            result = train_potential("painn", splits, Path(scratch) / "painn.pt", config)
        mae = result.test["energy_mae_per_structure"] * EV_TO_KCAL
        points.append({"n_train": n, "mae": mae, "unit": "kcal/mol", "seconds": time.perf_counter() - start,
                       "epochs": result.epochs, "krr_fchl19_mae": kernel_mae.get(n)})
        print(points[-1], flush=True)
    report = {"benchmark": "property_nn_vs_krr", "date": date.today().isoformat(),
              "machine": f"{platform.machine()}, {os.cpu_count()} cores", "command": "python " + " ".join(sys.argv),
              "model": "painn (esml train --model equivariant, energies only)", "n_test": len(test),
              "minutes_per_point": args.minutes, "points": points}
    args.out.write_text(json.dumps(report, indent=1) + "\n")


if __name__ == "__main__":
    main()
