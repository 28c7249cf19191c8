"""Generate → label (xTB) → train (CGCNN) → rank, for one binary chemical system, timed end to end.

    python benchmarks/materials_loop.py [--elements Si,C] [--method gfn1-xtb] [--train-minutes 3]

AFLOW prototypes decorated with the two elements (and the elemental references) at five volumes
are labeled by periodic GFN-xTB (tblite, Γ point, fresh cache, 2 workers); scans whose lowest
point is at an edge are extended and labeled again (up to twice). A CGCNN potential is trained on
the energies, carried to the repeated unit cells, of every prototype except the held-out ones (their structures
are never seen: the model has to predict hypothetical materials). Both the labels and the model
(on a finer 17-point volume grid) go through the same E(V) minimum and pymatgen hull; the
benchmark reports the hull-distance error of the model, for seen and held-out prototypes, the
rank correlation, whether the same phases are on the hull, and the time of every stage.
Writes benchmarks/results/materials_loop-SYSTEM.json and the two hull plots.
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

import ase.io
import numpy as np
from scipy.stats import spearmanr

from esml.methods import parse_method
from esml.properties.prototypes import GenerateConfig, generate
from esml.properties.ranking import (
    extensions,
    fine_scans,
    labeled_energies,
    minima,
    model_energies,
    plot_hull,
    rank,
    scans,
    unit_cells,
)
from esml.qm.cache import LabelCache
from esml.qm.label import label_structures
from esml.training.config import TrainConfig
from esml.training.data import Splits
from esml.training.run import train_potential

RESULTS = Path("benchmarks/results")


def stage(times: dict, name: str, function, *args, **kwargs):
    start = time.perf_counter()
    value = function(*args, **kwargs)
    times[name] = time.perf_counter() - start
    print(f"{name}: {times[name]:.0f} s", flush=True)
    return value


def split(frames, held_out: set[str]) -> Splits:
    """Held-out prototypes go nowhere; of the rest, the middle strain validates (early stopping)."""
    seen = [a for a in frames if a.info["prototype"] not in held_out]
    return Splits(train=[a for a in seen if a.info["strain"] != 1.0], valid=[a for a in seen if a.info["strain"] == 1.0],
                  test=[])


def table(ranked) -> dict[str, dict]:
    return {f"{m.formula} ({m.prototype})": {"e_above_hull": s.e_above_hull, "formation_energy": s.formation_energy,
                                             "inside_scan": m.inside} for m, s in ranked}


def compare(reference: dict, model: dict, held_out: set[str]) -> dict:
    keys = sorted(reference)
    ref = np.array([reference[k]["e_above_hull"] for k in keys])
    ml = np.array([model[k]["e_above_hull"] for k in keys])
    held = np.array([k.split("(")[1].rstrip(")") in held_out for k in keys])
    on_hull = {k for k in keys if reference[k]["e_above_hull"] < 1e-6}
    on_model_hull = {k for k in keys if model[k]["e_above_hull"] < 1e-6}
    return {"mae_e_above_hull": float(np.abs(ref - ml).mean()),
            "mae_e_above_hull_seen": float(np.abs(ref - ml)[~held].mean()),
            "mae_e_above_hull_held_out": float(np.abs(ref - ml)[held].mean()) if held.any() else None,
            "spearman": float(spearmanr(ref, ml).statistic), "hull_reference": sorted(on_hull),
            "hull_model": sorted(on_model_hull), "same_hull": on_hull == on_model_hull}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--elements", default="Si,C")
    parser.add_argument("--method", default="gfn1-xtb")
    parser.add_argument("--prototypes", default="rocksalt,zincblende,wurtzite,cscl,fluorite")
    parser.add_argument("--held-out", default="wurtzite,cscl")
    parser.add_argument("--min-width", type=float, default=6.0)
    parser.add_argument("--train-minutes", type=float, default=3.0)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--extend-rounds", type=int, default=2)
    parser.add_argument("--cache", type=Path, help="Reuse this label cache (the label times then are not a fresh run's).")
    parser.add_argument("--keep", type=Path, help="Write the labeled frames here (extxyz).")
    args = parser.parse_args()
    elements = args.elements.split(",")
    held_out = set(args.held_out.split(",")) if args.held_out else set()
    times: dict[str, float] = {}
    start = time.perf_counter()
    config = GenerateConfig(prototypes=tuple(args.prototypes.split(",")), min_width=args.min_width)
    frames = stage(times, "generate", generate, elements, config)
    method = parse_method(args.method)
    with tempfile.TemporaryDirectory() as scratch:
        cache = LabelCache(args.cache or Path(scratch) / "labels.sqlite")  # default fresh: every label computed here
        labeled, report = stage(times, "label", label_structures, frames, method, cache,
                                workers=args.workers)
        print(f"labeled {report.labeled} of {len(frames)} ({len(report.failures)} failed)", flush=True)
        for round_ in range(args.extend_rounds):  # label beyond the edge until every E(V) minimum is bracketed
            groups = scans(labeled)
            more = extensions(groups, minima(groups, labeled_energies(groups)))
            if not more:
                break
            extra, _ = stage(times, f"extend_{round_ + 1}", label_structures, more, method, cache,
                             workers=args.workers)
            labeled += extra
        if args.keep:
            ase.io.write(args.keep, labeled, format="extxyz")
        model_path = Path(scratch) / "cgcnn.pt"
        # Undistorted prototypes have zero forces by symmetry: energies are the information.
        train_config = TrainConfig(max_minutes=args.train_minutes, batch_size=4, force_weight=0.0, patience=200,
                                   lr_patience=30)
        cells = unit_cells(labeled)  # a local model learns the repeated cell, tens of times cheaper
        trained = stage(times, "train", train_potential, "cgcnn", split(cells, held_out), model_path, train_config)
        from esml.potentials import load

        groups = scans(labeled)
        reference = stage(times, "rank_reference", lambda: rank(minima(groups, labeled_energies(groups))))
        fine = fine_scans(scans(cells))
        predicted = stage(times, "rank_model", lambda: rank(minima(fine, model_energies(load(model_path), fine))))
    times["total"] = time.perf_counter() - start
    system = "-".join(elements)
    RESULTS.mkdir(exist_ok=True)
    plot_hull(reference, sorted(elements), RESULTS / f"materials_loop-{system}-{args.method}.png")
    plot_hull(predicted, sorted(elements), RESULTS / f"materials_loop-{system}-cgcnn.png")
    result = {"benchmark": "materials_loop", "date": date.today().isoformat(),
              "machine": f"{platform.machine()}, {os.cpu_count()} cores", "command": "python " + " ".join(sys.argv),
              "system": system, "method": args.method, "fresh_label_cache": args.cache is None, "n_generated": len(frames), "n_labeled": len(labeled),
              "n_atoms_labeled": sum(len(a) for a in labeled), "prototypes": args.prototypes, "held_out": sorted(held_out),
              "seconds": times, "cgcnn_valid": trained.valid, "cgcnn_epochs": trained.epochs,
              "comparison": compare(table(reference), table(predicted), held_out),
              "reference": table(reference), "model": table(predicted)}
    (RESULTS / f"materials_loop-{system}.json").write_text(json.dumps(result, indent=1) + "\n")
    print(json.dumps(result["comparison"], indent=1), f"\ntotal {times['total']:.0f} s", flush=True)


if __name__ == "__main__":
    main()
