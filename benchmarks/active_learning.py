"""Active learning against random sampling: oracle calls needed for a force MAE on independent frames.

    python benchmarks/active_learning.py --system aspirin [--budget 160] [--target 0.05]
    python benchmarks/active_learning.py --system ethanol        # pbe/def2-svp oracle
    python benchmarks/active_learning.py --system ethanol --baseline none --random-only
    python benchmarks/active_learning.py --start my-molecule.xyz [--oracle gfn2-xtb]   # any molecule

Both learners fit the same model and are scored on the same independent test frames: the
committed 300 K and 600 K sets of benchmarks/data (xTB MD, labeled with the oracle), which neither
learner ever sees. The model is esml.training.gp's GP with its default settings, on top of the
baseline ``esml learn`` picks by default (GFN2-xTB under the PBE oracle, none under the xTB
oracle); --baseline none learns the whole energy for both.

- active: ``esml learn``'s loop from the relaxed start geometry with the system's oracle, walkers
  at 300 K and 600 K; after every round its model is scored on the test frames, and at the end
  the saved model (refitted on the validation frames too). Oracle calls count everything sent
  to the oracle (seed, validation and selected frames).
- random: N frames drawn at random from the 500 K reference MD pool (the 'train' split of
  <system>-500K, labeled with the same oracle), for growing N, --draws draws each.

With --start, the molecule in that file takes the place of a committed system: its 500 K pool and
300 K and 600 K test frames are made first, as md_datasets.py makes ethanol's and aspirin's
(benchmarks/data/<file stem>-{500K,300K,600K}.xyz.gz; a rerun reuses them).

The number of calls each needs to reach --target, and a few other error levels, is read off its
curve (log-log interpolation between the two points that bracket it). The test-set coverage of
the final calibrated σ is reported too. Writes JSON and a PNG of the learning curves to
benchmarks/results/ (a name with the baseline, --inducing and --budget when they are not the defaults).
"""

from __future__ import annotations

import argparse
import json
import platform
import time
from datetime import date
from pathlib import Path

import numpy as np
from ase.build import molecule
from md_datasets import build, sets_for  # this folder is on the path when a benchmark runs as a script

from esml.active.config import LearnConfig
from esml.active.loop import ActiveLearner, Hooks
from esml.methods import MethodSpec, parse_reference
from esml.potentials.files import load_with_metadata
from esml.qm.cache import LabelCache, default_cache_path
from esml.structures import read_structures
from esml.training.config import GPConfig
from esml.training.delta import fit_gp_on_baseline, resolve_baseline
from esml.training.evaluate import evaluate_frames
from esml.training.gp import DescriptorCache

HERE = Path(__file__).parent
ORACLES = {"ethanol": "pbe/def2-svp", "aspirin": "gfn2-xtb"}
BUDGET = 160  # oracle calls of the loop; another budget is named in the output files
LEVELS = (0.15, 0.1, 0.075, 0.05, 0.035, 0.025)  # eV/Å: errors at which the calls of both learners are compared


def test_errors(model, frames) -> np.ndarray:
    """Force-component errors (eV/Å) of ``model`` on labeled frames."""
    return evaluate_frames(model, frames, uncertainty=False).force_errors


def calls_to_reach(curve: list[tuple[float, float]], target: float) -> float | None:
    """Oracle calls at which a (calls, MAE) curve first reaches ``target``, log-log interpolated."""
    for (n0, e0), (n1, e1) in zip(curve, curve[1:]):
        if e0 > target >= e1:
            t = (np.log(e0) - np.log(target)) / (np.log(e0) - np.log(e1))
            return float(np.exp(np.log(n0) + t * (np.log(n1) - np.log(n0))))
    if curve and curve[0][1] <= target:
        return float(curve[0][0])
    return None


def run_active(oracle: str, start, test, args, run_dir: Path) -> dict:
    curve = []

    def score(round_index: int, model) -> None:
        errors = test_errors(model, test)
        curve.append({"round": round_index, "n_train": None, "force_mae": float(np.abs(errors).mean())})
        print(f"  active round {round_index}: test force MAE {1000 * curve[-1]['force_mae']:.1f} meV/Å", flush=True)

    if run_dir.exists():
        import shutil

        shutil.rmtree(run_dir)
    # xTB calls take milliseconds: worker processes would cost more to start than they save
    workers = 1 if oracle.endswith("xtb") else args.workers
    config = LearnConfig(oracle=oracle, target_force_mae=args.target, budget=args.budget, workers=workers,
                         baseline=args.baseline, gp=gp_config(args))
    learner = ActiveLearner(run_dir, config, LabelCache(default_cache_path()), Hooks(on_model=score))
    learner.start(start)
    clock = time.perf_counter()
    state = learner.run()
    seconds = time.perf_counter() - clock
    # the calls behind each round's model: seed + everything labeled before that round's fit
    calls_at_fit = [state.config["n_seed"]] + [row["oracle_calls"] + row.get("labels", {}).get("sent", 0) for row in state.rounds[:-1]]
    for point, calls, row in zip(curve, calls_at_fit, state.rounds):
        point["oracle_calls"] = calls
        # what the loop itself believed of the same model, beside the independent test frames
        point["validation_force_mae"] = row.get("validation", {}).get("force_mae")
    # the saved model: refitted on training + validation frames, i.e. on every oracle call
    # σ scaled as esml evaluate scales it: by the calibration the loop saved with the model
    model, saved = load_with_metadata(run_dir / "model.pt")
    scale = saved.get("calibration_scale") or 1.0
    final = evaluate_frames(model, test, sigma_scale=scale).metrics()
    curve.append({"round": "final", "oracle_calls": state.oracle_calls, "force_mae": final["force_mae"]})
    print(f"  active final model ({state.oracle_calls} calls): test force MAE {1000 * curve[-1]['force_mae']:.1f} meV/Å", flush=True)
    return {
        "status": state.status, "oracle_calls": state.oracle_calls, "wall_seconds": round(seconds, 1),
        "curve": curve, "final_force_mae": final["force_mae"],
        "test_coverage_1sigma": final["force_coverage_1sigma"], "test_coverage_2sigma": final["force_coverage_2sigma"],
        "calibration_scale": scale, "cross_validated_force_mae": state.saved_model.get("force_mae"),
    }


def gp_config(args) -> GPConfig:
    return GPConfig(max_inducing=args.inducing) if args.inducing else GPConfig()


def run_random(pool, test, sizes: list[int], draws: int, baseline: MethodSpec | None, gp: GPConfig) -> list[dict]:
    rng = np.random.default_rng(0)
    descriptors = DescriptorCache(sorted({int(z) for z in pool[0].numbers}))
    labels = LabelCache(default_cache_path())
    curve = []
    for size in sizes:
        if size > len(pool):
            break
        maes = []
        for _ in range(draws):
            frames = [pool[k] for k in rng.choice(len(pool), size, replace=False)]
            errors = test_errors(fit_gp_on_baseline(frames, baseline, labels, gp, descriptors), test)
            maes.append(float(np.abs(errors).mean()))
        curve.append({"oracle_calls": size, "force_mae": float(np.mean(maes)), "force_mae_draws": maes})
        print(f"  random {size}: test force MAE {1000 * np.mean(maes):.1f} meV/Å", flush=True)
    return curve


def previous_random(path: Path, baseline: str | None) -> list[dict]:
    """The random curve of an earlier run on the same baseline (it depends only on the pool, the
    test frames and the model)."""
    if not path.exists():
        return []
    earlier = json.loads(path.read_text())
    return earlier.get("random", []) if earlier.get("baseline") == baseline else []


def plot(result: dict, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    figure, axis = plt.subplots(figsize=(5, 4))
    for name, points in (("active (esml learn)", result.get("active", {}).get("curve", [])), ("random from 500 K MD", result["random"])):
        axis.plot([p["oracle_calls"] for p in points], [1000 * p["force_mae"] for p in points], marker="o", label=name)
    axis.axhline(1000 * result["target"], color="grey", linestyle="--", label="target")
    axis.set_xscale("log")
    axis.set_yscale("log")
    axis.set_xlabel("oracle calls")
    axis.set_ylabel("test force MAE, 300 K + 600 K (meV/Å)")
    axis.set_title(f"{result['system']}, oracle {result['oracle']}")
    axis.legend()
    figure.tight_layout()
    figure.savefig(path, dpi=120)
    plt.close(figure)


def chosen_system(args) -> tuple[str, str, object]:
    """Name, oracle and start structure of --system, or of --start after its data sets are made."""
    if args.start is None:
        start = molecule("CH3CH2OH") if args.system == "ethanol" else read_structures(HERE / "data" / "aspirin-start.xyz")[0]
        return args.system, ORACLES[args.system], start
    name = args.start.name.split(".")[0]
    labels = LabelCache(default_cache_path())
    for spec in sets_for(name, args.start, args.oracle):
        if not (HERE / "data" / f"{spec.name}.xyz.gz").exists():
            print(f"making {spec.name}: {spec.frames} frames of GFN2-xTB MD, labeled with {args.oracle}", flush=True)
            build(spec, labels, args.workers)
    return name, args.oracle, read_structures(args.start)[0]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--system", choices=sorted(ORACLES), default="aspirin")
    parser.add_argument("--start", type=Path, help="Any other molecule (a structure file) instead of --system.")
    parser.add_argument("--oracle", default="gfn2-xtb", help="The oracle of a --start molecule.")
    parser.add_argument("--budget", type=int, default=BUDGET)
    parser.add_argument("--target", type=float, default=0.05, help="Force MAE (eV/Å).")
    parser.add_argument("--random-sizes", type=lambda text: [int(n) for n in text.split(",")], default=[6, 12, 25, 50, 100, 150, 200],
                        help="Training-set sizes of the random curve, comma separated.")
    parser.add_argument("--draws", type=int, default=2, help="Random draws per training-set size.")
    parser.add_argument("--workers", type=int, default=2, help="Oracle worker processes (DFT oracles only).")
    parser.add_argument("--baseline", default="auto", help="As esml learn's --baseline: auto, none or a method.")
    parser.add_argument("--inducing", type=int, help="Most inducing environments per element of both learners' GP (default: the GP's own).")
    parser.add_argument("--random-only", action="store_true", help="Only the random curve (e.g. of another --baseline).")
    parser.add_argument("--skip-random", action="store_true", help="Reuse the random curve of the last run's JSON.")
    args = parser.parse_args()
    system, oracle, start = chosen_system(args)
    data = HERE / "data"
    pool = [a for a in read_structures(data / f"{system}-500K.xyz.gz") if a.info["split"] == "train"]
    test = read_structures(data / f"{system}-300K.xyz.gz") + read_structures(data / f"{system}-600K.xyz.gz")
    baseline_method = resolve_baseline(parse_reference(oracle), args.baseline)
    baseline = baseline_method.label if baseline_method else None
    result = {"system": system, "oracle": oracle, "target": args.target,
              "baseline": baseline, "n_test_frames": len(test),
              "machine": f"{platform.processor() or platform.machine()}, {__import__('os').cpu_count()} cores", "date": str(date.today())}
    suffix = "" if args.baseline == "auto" else f"-baseline-{baseline or 'none'}"
    suffix += f"-inducing-{args.inducing}" if args.inducing else ""
    suffix += f"-budget-{args.budget}" if args.budget != BUDGET else ""
    out = HERE / "results" / f"active_learning-{system}{suffix}.json"
    earlier = previous_random(out, baseline) if args.skip_random else []
    if not args.random_only:
        print("active learning", flush=True)
        result["active"] = run_active(oracle, start, test, args, HERE / "results" / f"active-{system}{suffix}")
        out.write_text(json.dumps(result, indent=1))  # the active part is kept even if the random curve is stopped
    result["random"] = earlier or run_random(pool, test, args.random_sizes, args.draws, baseline_method, gp_config(args))
    result["calls_to_reach"] = {}
    for level in sorted({args.target, *LEVELS}, reverse=True):
        calls = {name: calls_to_reach([(p["oracle_calls"], p["force_mae"]) for p in points], level)
                 for name, points in (("active", result.get("active", {}).get("curve", [])), ("random", result["random"]))}
        if calls["active"] and calls["random"]:
            calls["random_over_active"] = calls["random"] / calls["active"]
        result["calls_to_reach"][f"{1000 * level:.0f} meV/A"] = calls
    out.write_text(json.dumps(result, indent=1))
    plot(result, out.with_suffix(".png"))
    print(json.dumps(result["calls_to_reach"], indent=1), f"\nwrote {out}")


if __name__ == "__main__":
    main()
