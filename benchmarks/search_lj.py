"""Global minima of Lennard-Jones clusters: esml's learned search policy against tuned basin hopping.

    python benchmarks/search_lj.py [--seeds 20] [--workers 2] [--train] [--sizes 13,38,55,75]

1. Basin hopping is tuned on the training sizes (LJ26, LJ30, LJ34): a grid of step sizes and
   temperatures, the setting with the fewest median evaluations to each size's lowest known minimum.
2. With ``--train`` the policy is trained there by evolution strategies (esml.search.training) and
   written as the shipped one (esml/search/data/policy.json); otherwise the shipped policy is used.
3. Both run on the test sizes, which neither saw, from the same random starts (one per seed) with
   the same cap on evaluations; success is reaching the Cambridge Cluster Database's energy within 1e-4 ε.

Every run's outcome is appended to benchmarks/results/search_lj_runs.jsonl and read back on a
rerun, so an interrupted benchmark goes on where it stopped. Writes benchmarks/results/search_lj.json
(per size: success rates, median evaluations to success, ``evaluation_ratio`` = policy ÷ basin
hopping, ``success_difference`` = policy − basin hopping) and search_lj.png.
"""

from __future__ import annotations

import argparse
import json
import platform
import time
from dataclasses import asdict
from datetime import date
from multiprocessing import get_context
from pathlib import Path

import numpy as np

from esml.search.pair import LennardJones, PairCalculator, evaluate
from esml.search.policy import SHIPPED, BasinHopping, load_policy
from esml.search.run import SearchConfig, search
from esml.search.training import PolicyTraining, random_cluster, reference_targets, train_policy

RESULTS = Path(__file__).parent / "results"
GLOBAL_MINIMA = {13: -44.326801, 38: -173.928427, 55: -279.248470, 75: -397.492331}  # Cambridge Cluster Database
CAPS = {13: 20_000, 38: 1_000_000, 55: 200_000, 75: 1_000_000}
STEPS = (0.3, 0.4, 0.5, 0.6)
TEMPERATURES = (0.05, 0.1, 0.2)


def run(task: tuple) -> dict:
    name, policy, size, seed, target, cap = task
    started = time.perf_counter()
    result = search(random_cluster(size, 100_000 + seed), LennardJones(), policy,
                    SearchConfig(evaluations=cap, target=target, seed=seed))
    return {"name": name, "size": size, "seed": seed, "cap": cap, "target": target,
            "evaluations_to_target": result.evaluations_to_target, "best_energy": result.best_energy,
            "evaluations": result.evaluations, "hops": result.hops, "moves": result.moves,
            "history": result.history, "seconds": time.perf_counter() - started}


def run_all(tasks: list[tuple], log: Path, workers: int, run=run) -> list[dict]:
    """Every task's outcome (``run(task)``), from the log where a previous run of this benchmark recorded it."""
    def key(record: dict) -> tuple:
        return record["name"], record["size"], record["seed"], record["cap"]

    done = {key(record): record for record in map(json.loads, log.read_text().splitlines())} if log.exists() else {}
    todo = [t for t in tasks if (t[0], t[2], t[3], t[5]) not in done]
    with get_context("fork").Pool(workers) as pool, log.open("a") as out:
        for record in pool.imap_unordered(run, todo):
            out.write(json.dumps(record) + "\n")
            out.flush()
            done[key(record)] = record
            print(f"{record['name']:>14} size {record['size']} seed {record['seed']}: {record['evaluations_to_target']} "
                  f"({record['best_energy']:.6f})", flush=True)
    return [done[(t[0], t[2], t[3], t[5])] for t in tasks]


def median_to_success(records: list[dict]) -> float | None:
    """The median over all seeds of the evaluations to success, a miss counting as infinitely many;
    None where half or more missed (the median is then not a number of evaluations)."""
    counts = sorted(r["evaluations_to_target"] if r["evaluations_to_target"] is not None else np.inf for r in records)
    median = float(np.median(counts))
    return median if np.isfinite(median) else None


def tune_basin_hopping(training: PolicyTraining, targets: dict[int, float], seeds: int, workers: int, log: Path):
    tasks = [(f"bh-{step}-{t}", BasinHopping(step, t), size, seed, targets[size], training.evaluations)
             for step in STEPS for t in TEMPERATURES for size in training.sizes for seed in range(seeds)]
    records = run_all(tasks, log, workers)
    scores = {}
    for step in STEPS:
        for t in TEMPERATURES:
            mine = [r for r in records if r["name"] == f"bh-{step}-{t}"]
            scores[(step, t)] = float(np.mean([np.log(r["evaluations_to_target"] or 2 * r["cap"]) for r in mine]))
    best = min(scores, key=scores.get)
    return BasinHopping(*best), {f"step {s}, kT {t}": v for (s, t), v in scores.items()}


def pair_speed() -> dict:
    from ase.calculators.lj import LennardJones as AseLJ

    atoms = random_cluster(38, 0)
    timings = {}
    for label, call in (("esml.search.pair.evaluate", lambda x: evaluate(LennardJones(), x)),
                        ("esml PairCalculator (ASE interface)", _ase_call(atoms, PairCalculator(LennardJones()))),
                        ("ase.calculators.lj (rc=1e4)", _ase_call(atoms, AseLJ(rc=1e4)))):
        call(atoms.positions)
        started = time.perf_counter()
        for k in range(500):
            call(atoms.positions + 1e-6 * k)
        timings[label] = (time.perf_counter() - started) / 500 * 1e6
    return {"LJ38 energy+forces, µs per call": timings}


def _ase_call(atoms, calculator):
    atoms = atoms.copy()
    atoms.calc = calculator

    def call(positions):
        atoms.positions = positions
        return atoms.get_forces(), atoms.get_potential_energy()

    return call


def plot(records: list[dict], sizes: list[int], names: dict[str, str], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    figure, axes = plt.subplots(1, len(sizes), figsize=(3.6 * len(sizes), 3.4), squeeze=False)
    for axis, size in zip(axes[0], sizes):
        for name, label in names.items():
            mine = [r for r in records if r["name"] == name and r["size"] == size]
            found = np.sort([r["evaluations_to_target"] for r in mine if r["evaluations_to_target"] is not None])
            if len(found):  # the fraction of seeds that had succeeded by each number of evaluations
                fraction = np.concatenate([np.arange(1, len(found) + 1), [len(found)]]) / len(mine)
                axis.step(np.concatenate([found, [CAPS[size]]]), fraction, where="post", label=label)
        axis.set_xscale("log")
        axis.set_xlabel("energy evaluations")
        axis.set_title(f"LJ{size}")
        axis.set_ylim(0, 1.02)
    axes[0][0].set_ylabel("fraction of seeds at the global minimum")
    axes[0][0].legend(fontsize="x-small", loc="upper left")
    figure.tight_layout()
    figure.savefig(path, dpi=120)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seeds", type=int, default=20)
    parser.add_argument("--tuning-seeds", type=int, default=4)
    parser.add_argument("--sizes", default="13,38,55,75")
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--train", action="store_true", help="train the policy and ship it (else use the shipped one)")
    parser.add_argument("--out", type=Path, default=RESULTS / "search_lj.json")
    args = parser.parse_args()
    sizes = [int(n) for n in args.sizes.split(",")]
    log = args.out.with_name(args.out.stem + "_runs.jsonl")
    started = time.perf_counter()
    training = PolicyTraining()
    targets = reference_targets(training, args.workers)
    basin_hopping, tuning = tune_basin_hopping(training, targets, args.tuning_seeds, args.workers, log)
    print(f"tuned: {basin_hopping.description}", flush=True)
    if args.train:
        policy = train_policy(training, targets, args.workers,
                              lambda g, s, p: print(f"generation {g + 1}: mean log evaluations {s:.3f}", flush=True))
        policy.save(SHIPPED)
    policy = load_policy(SHIPPED)
    tasks = [(name, chooser, size, seed, GLOBAL_MINIMA[size], CAPS[size])
             for size in sizes for seed in range(args.seeds)
             for name, chooser in (("basin hopping", basin_hopping), ("policy", policy))]
    records = run_all(tasks, log, args.workers)
    table = {}
    for size in sizes:
        rows = {name: [r for r in records if r["name"] == name and r["size"] == size] for name in ("basin hopping", "policy")}
        medians = {name: median_to_success(rows[name]) for name in rows}
        success = {name: float(np.mean([r["evaluations_to_target"] is not None for r in rows[name]])) for name in rows}
        ratio = medians["policy"] / medians["basin hopping"] if medians["policy"] and medians["basin hopping"] else None
        table[f"LJ{size}"] = {"global_minimum": GLOBAL_MINIMA[size], "cap": CAPS[size], "seeds": args.seeds,
                              "success_basin_hopping": success["basin hopping"], "success_policy": success["policy"],
                              "success_difference": success["policy"] - success["basin hopping"],
                              "median_evaluations_basin_hopping": medians["basin hopping"],
                              "median_evaluations_policy": medians["policy"], "evaluation_ratio": ratio}
        print(f"LJ{size}: {table[f'LJ{size}']}", flush=True)
    plot(records, sizes, {"basin hopping": f"basin hopping (step {basin_hopping.size:g}, kT {basin_hopping.temperature:g})",
                          "policy": "learned policy"}, args.out.with_suffix(".png"))
    summary = {"date": date.today().isoformat(), "machine": f"{platform.machine()}, {__import__('os').cpu_count()} cores",
               "command": "python benchmarks/search_lj.py " + " ".join(
                   f"--{k.replace('_', '-')}" + ("" if v is True else f" {v}") for k, v in vars(args).items() if k != "out" and v is not False),
               "training_sizes": [f"LJ{n}" for n in training.sizes], "training_targets": targets,
               "training": asdict(training), "basin_hopping": asdict(basin_hopping), "basin_hopping_tuning": tuning,
               "policy": policy.trained_on, "sizes": table, "speed": pair_speed(),
               "wall_seconds": time.perf_counter() - started}
    args.out.write_text(json.dumps(summary, indent=1))


if __name__ == "__main__":
    main()
