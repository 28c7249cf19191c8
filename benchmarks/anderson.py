"""The 3D Anderson transition learned from realisations far from it: W_c and ν against Slevin & Ohtsuki.

    python benchmarks/anderson.py [--probe transfer|levels] [--workers 2]
                                  [--cache benchmarks/data/anderson] [--out benchmarks/results/anderson.json]

Runs `esml anderson`'s study with a probe's defaults (esml.disorder.config): a network trained on
W = 8…13 (extended) and 20…25 (localised) only, so never within 3 of W_c, applied at W = 14.5…18.5;
then finite-size scaling of its mean output, and of the probe's classical statistic on the same
realisations beside it (the peer). ``transfer``: bars of width L = 6…12 (trained on 4, 6, 8; 14
unseen), 1,200 segments of 32 L slices per point; the network sees each segment's smallest
exponent × L (``inputs_scan`` in the JSON: with its 2 or 4 smallest). ``levels``: cubes L = 8…16 (trained on 8, 10,
12; 20 unseen), 8,000 spacing ratios within ±1 of the band centre per point. The realisations are
cached in --cache (committed: a rerun computes nothing), so a study resumes where it stopped.
"""

from __future__ import annotations

import argparse
import json
import platform
import time
from dataclasses import replace
from datetime import date
from pathlib import Path

from esml.atomic import write_text
from esml.disorder.config import PROBES, preset
from esml.disorder.plots import plot_study
from esml.disorder.study import run_study

REFERENCE = {"w_c": 16.543, "nu": 1.572, "source": "Slevin & Ohtsuki, New J. Phys. 16, 015012 (2014)"}
GOALS = {"w_c_relative_error": 0.02, "nu_relative_error": 0.10, "closest_training_disorder": 3.0}
HERE = Path(__file__).resolve().parent


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--probe", choices=PROBES, default="transfer")
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--cache", type=Path, default=HERE / "data" / "anderson")
    parser.add_argument("--out", type=Path, default=None, help="default: benchmarks/results/anderson[-levels].json")
    args = parser.parse_args()
    out = args.out or HERE / "results" / ("anderson.json" if args.probe == "transfer" else f"anderson-{args.probe}.json")
    study = preset(args.probe).checked()
    closest = min(abs(w - REFERENCE["w_c"]) for w in study.extended + study.localised)
    assert closest >= GOALS["closest_training_disorder"], closest

    start = time.perf_counter()
    result, _ = run_study(study, args.cache, args.workers,
                          lambda done, total: print(f"\r{done}/{total} realisations", end="", flush=True))
    seconds = time.perf_counter() - start
    print()
    network, classical = result["network"], result["classical"]
    summary = {
        "date": str(date.today()), "machine": f"{platform.node()} ({_cores()} cores)",
        "command": f"python benchmarks/anderson.py --probe {args.probe} --workers {args.workers}", "seconds": seconds,
        "reference": REFERENCE, "goals": GOALS, "closest_training_disorder_to_w_c": closest,
        "w_c": network["w_c"], "w_c_error": network["w_c_error"], "nu": network["nu"], "nu_error": network["nu_error"],
        "w_c_relative_error": abs(network["w_c"] / REFERENCE["w_c"] - 1),
        "nu_relative_error": abs(network["nu"] / REFERENCE["nu"] - 1),
        "chi2_per_dof": network["chi2_per_dof"], "validation_accuracy": result["validation_accuracy"],
        "unseen_size_z": [round(p["z"], 2) for p in network["unseen"]],
        "peer_classical": {"statistic": result["classical_statistic"], "w_c": classical["w_c"], "w_c_error": classical["w_c_error"], "nu": classical["nu"],
                            "nu_error": classical["nu_error"], "chi2_per_dof": classical["chi2_per_dof"],
                            "w_c_relative_error": abs(classical["w_c"] / REFERENCE["w_c"] - 1),
                            "nu_relative_error": abs(classical["nu"] / REFERENCE["nu"] - 1),
                            "unseen_size_z": [round(p["z"], 2) for p in classical["unseen"]]},
        "inputs_scan": _inputs_scan(study, args.cache, args.workers) if args.probe == "transfer" else None,
        "study": result,
    }
    write_text(out, json.dumps(summary, indent=1))
    plot_study(result, out.with_suffix(".png"))
    print(json.dumps({k: v for k, v in summary.items() if k != "study"}, indent=1))


def _inputs_scan(study, cache: Path, workers: int) -> list[dict]:
    """The network seeing the 1, 2 and all kept smallest exponents of each segment: which inputs obey
    one-parameter scaling (the fit's χ²/dof), whatever W_c and ν they give."""
    scan = []
    for inputs in sorted({1, 2, study.keep}):
        fit = run_study(replace(study, inputs=inputs), cache, workers)[0]["network"]
        scan.append({"inputs": inputs, **{k: fit[k] for k in ("w_c", "w_c_error", "nu", "nu_error", "chi2_per_dof")}})
    return scan


def _cores() -> int:
    import os

    return len(os.sched_getaffinity(0))


if __name__ == "__main__":
    main()
