"""How much can the choice of frames alone gain over random frames? (issue #6)

    python benchmarks/active_selection_bound.py                 # aspirin, GFN2-xTB labels, 3,000 inducing environments
    python benchmarks/active_selection_bound.py --score error   # the same choice ranked by the true error
    python benchmarks/active_selection_bound.py --score error --greedy   # the largest true errors, no farthest points

``esml learn`` chooses among the frames its walkers pass through, with a model that is still
learning how to move. Here the same choice (``esml.active.loop.choose``: the most uncertain quarter,
then farthest-point batches away from the labeled frames) picks from the random learner's own
pool instead, the labeled 500 K xTB MD frames: the best pool a selection could ask for, since it
is drawn from the same MD as the test frames. So this bounds what better selection could give
the loop. Beside it, in the same run, random frames from the same pool at the same sizes; both
fit the same GP (``--inducing``) and are scored on the same 300 K + 600 K test frames as
``benchmarks/active_learning.py``. Writes benchmarks/results/active_selection_bound-aspirin.json
and .png (both learning curves).

``--score error`` ranks the pool by each frame's true mean force error instead of the GP's σ:
the choice a perfect uncertainty would make, which bounds what any better uncertainty could give.
Its results go to active_selection_bound-aspirin-error.{json,png}. ``--greedy`` takes the
highest-ranked frames of the pool as they come, without the farthest-point step (``-greedy`` in
the file names).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import time
from datetime import date
from pathlib import Path

import numpy as np
from active_learning import test_errors  # this folder is on the path when a benchmark runs as a script

from esml.active.descriptors import structure_features
from esml.active.loop import choose
from esml.active.walkers import Visit
from esml.calculator import PotentialCalculator
from esml.structures import read_structures
from esml.training.config import GPConfig
from esml.training.gp import DescriptorCache, fit_gaussian_process

HERE = Path(__file__).parent


def force_mae(model, frames) -> float:
    return float(np.abs(test_errors(model, frames)).mean())


def mean_force_sigma(model, frames) -> np.ndarray:
    calculator = PotentialCalculator(model)
    sigmas = []
    for frame in frames:
        atoms = frame.copy()
        atoms.calc = calculator
        sigmas.append(float(calculator.get_property("forces_std", atoms).mean()))
    return np.array(sigmas)


def mean_force_error(model, frames) -> np.ndarray:
    return np.array([np.abs(test_errors(model, [frame])).mean() for frame in frames])


SCORES = {"sigma": (mean_force_sigma, "GP σ"), "error": (mean_force_error, "true error")}


def plot(result: dict, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    figure, axis = plt.subplots(figsize=(5, 4))
    chosen_label = f"chosen by {SCORES[result['score']][1]}" + ("" if result["greedy"] else " + farthest points")
    for key, label in (("selected", chosen_label), ("random", "random")):
        points = result[key]
        axis.plot([p["frames"] for p in points], [1000 * p["force_mae"] for p in points], marker="o", label=label)
    axis.set_xscale("log")
    axis.set_yscale("log")
    axis.set_xlabel("labeled frames from the 500 K xTB MD pool")
    axis.set_ylabel("test force MAE, 300 K + 600 K (meV/Å)")
    axis.set_title(f"aspirin, GP with {result['inducing']} inducing environments")
    axis.legend()
    figure.tight_layout()
    figure.savefig(path, dpi=120)
    plt.close(figure)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--inducing", type=int, default=3000, help="Most inducing environments per element of the GP.")
    parser.add_argument("--start", type=int, default=8, help="Random frames before the first choice.")
    parser.add_argument("--batch", type=int, default=16)
    parser.add_argument("--budget", type=int, default=136, help="Frames in all (1/3 of the 400 random frames that reach 50 meV/Å).")
    parser.add_argument("--score", choices=sorted(SCORES), default="sigma",
                        help="Rank the pool by the GP's mean force σ, or by the true mean force error (a perfect uncertainty).")
    parser.add_argument("--greedy", action="store_true", help="Take the highest-ranked frames, without farthest-point sampling.")
    args = parser.parse_args()
    data = HERE / "data"
    pool = [a for a in read_structures(data / "aspirin-500K.xyz.gz") if a.info["split"] == "train"]
    test = read_structures(data / "aspirin-300K.xyz.gz") + read_structures(data / "aspirin-600K.xyz.gz")
    species = sorted({int(z) for z in pool[0].numbers})
    score = SCORES[args.score][0]
    gp, descriptors = GPConfig(max_inducing=args.inducing), DescriptorCache(species)

    def fit(frames):  # on the pool's own GFN2-xTB labels, no baseline: as active_learning.py for aspirin
        return fit_gaussian_process(frames, gp, descriptors)

    rng = np.random.default_rng(0)
    chosen = [int(k) for k in rng.choice(len(pool), args.start, replace=False)]
    selected, random_curve = [], []
    began = time.perf_counter()
    while True:
        model = fit([pool[k] for k in chosen])
        selected.append({"frames": len(chosen), "force_mae": force_mae(model, test)})
        print(f"selected {len(chosen)}: test force MAE {1000 * selected[-1]['force_mae']:.1f} meV/Å", flush=True)
        if len(chosen) >= args.budget:
            break
        taken = set(chosen)
        rest = [k for k in range(len(pool)) if k not in taken]
        visits = [Visit(pool[k], 0, 500.0, float(s)) for k, s in zip(rest, score(model, [pool[k] for k in rest]))]
        index_of = {id(visit): k for visit, k in zip(visits, rest)}
        count = min(args.batch, args.budget - len(chosen))
        if args.greedy:
            picks = sorted(visits, key=lambda visit: -visit.score)[:count]
        else:  # an infinite threshold: none is "over" it, so choose takes the most uncertain quarter
            covered = structure_features([pool[k] for k in chosen], species)
            picks = choose(visits, np.inf, count, covered, species)
        chosen += [index_of[id(visit)] for visit in picks]
    selection_seconds = time.perf_counter() - began
    for size in [point["frames"] for point in selected]:
        frames = [pool[k] for k in np.random.default_rng(size).choice(len(pool), size, replace=False)]
        random_curve.append({"frames": size, "force_mae": force_mae(fit(frames), test)})
        print(f"random {size}: test force MAE {1000 * random_curve[-1]['force_mae']:.1f} meV/Å", flush=True)
    variant = ([args.score] if args.score != "sigma" else []) + (["greedy"] if args.greedy else [])
    flags = [f"--score {args.score}"] * (args.score != "sigma") + ["--greedy"] * args.greedy
    name = "-".join(["active_selection_bound-aspirin", *variant])
    result = {"benchmark": "active_selection_bound", "system": "aspirin", "oracle": "gfn2-xtb", "score": args.score, "greedy": args.greedy, "inducing": args.inducing,
              "batch": args.batch, "pool_frames": len(pool), "n_test_frames": len(test), "selected": selected,
              "random": random_curve, "selection_seconds": round(selection_seconds, 1),
              "machine": f"{platform.machine()}, {os.cpu_count()} cores", "date": str(date.today()),
              "command": " ".join(["python benchmarks/active_selection_bound.py", *flags])}
    out = HERE / "results" / f"{name}.json"
    out.write_text(json.dumps(result, indent=1) + "\n")
    plot(result, out.with_suffix(".png"))
    print(f"wrote {out} and its .png")


if __name__ == "__main__":
    main()
