"""Learning curves of kernel property models on QM7 / QM9 against the published and measured anchors.

    python benchmarks/property_learning_curves.py --dataset qm7 --target atomization \\
        --models krr-fchl19,krr-bob,krr-cm --n-train 100,200,500,1000,2000,4000
    python benchmarks/property_learning_curves.py --dataset qm9 --target U0,gap,mu --models krr-fchl19 \\
        --n-train 100,500,1000,2000,5000,10000,20000 --n-test 1000

Each model is trained on the first N molecules of a seeded shuffle of the stored train split and
scored on the stored test split (or its first --n-test of a seeded shuffle), exactly as
`esml learning-curve` does; σ and λ by 5-fold cross-validation each time. The store is a temporary
SQLite file filled by `esml datasets import` unless --db names one. Several targets (comma-separated)
share each kernel computation; a point's seconds and peak memory are then those of all of them together.
Writes benchmarks/results/properties-<dataset>-<target>.json and a log-log PNG of all models, per target.
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

from esml.data.bundled import import_bundled
from esml.data.datasets import list_datasets
from esml.data.store import open_store
from esml.properties.krr import KRRConfig
from esml.properties.learning_curve import learning_curves, plot_learning_curves


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dataset", default="qm7")
    parser.add_argument("--target", default="atomization")
    parser.add_argument("--models", default="krr-fchl19,krr-bob,krr-cm")
    parser.add_argument("--n-train", default="100,200,500,1000,2000,4000")
    parser.add_argument("--n-test", type=int, default=None)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--db", default=None)
    parser.add_argument("--out", type=Path, default=Path("benchmarks/results"))
    args = parser.parse_args()
    targets = args.target.split(",")
    sizes = [int(n) for n in args.n_train.split(",")]

    with tempfile.TemporaryDirectory() as scratch:
        store = open_store(args.db or str(Path(scratch) / "store.db"))
        if args.dataset not in {summary.name for summary in list_datasets(store)}:
            import_bundled(store, args.dataset)
        by_target = {name: [] for name in targets}
        for model in args.models.split(","):
            start = time.perf_counter()
            config = KRRConfig(representation=model.removeprefix("krr-"), seed=args.seed)
            curves = learning_curves(store, args.dataset, targets, config, sizes, args.n_test,
                                     log=lambda line: print(f"  [{model}] {line}", flush=True))
            for curve in curves:
                curve["wall_s"] = time.perf_counter() - start
                by_target[curve["target"]].append(curve)
                print(model, curve["target"], [(p["n_train"], round(p["mae"], 3)) for p in curve["points"]], flush=True)

    for name, curves in by_target.items():
        report = {"benchmark": "property_learning_curves", "date": date.today().isoformat(),
                  "machine": f"{platform.machine()}, {os.cpu_count()} cores", "command": "python " + " ".join(sys.argv),
                  "curves": curves}
        out = args.out / f"properties-{args.dataset}-{name}.json"
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_text(json.dumps(report, indent=1) + "\n")
        plot_learning_curves(curves, out.with_suffix(".png"))
        print(f"wrote {out}")


if __name__ == "__main__":
    main()
