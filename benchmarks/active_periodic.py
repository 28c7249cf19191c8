"""`esml learn` on a periodic cell (issue #6): a box of liquid water with the GFN2-xTB oracle, then
NVT MD with the learned model to check that it stays stable.

    python benchmarks/active_periodic.py                       # 21 molecules (63 atoms), 20 ps
    python benchmarks/active_periodic.py --molecules 8 --budget 16 --ps 0.05   # a smoke run

1. The box: ``--molecules`` water molecules at 1 g/cm³ on a jittered cubic grid with random
   orientations (seeded, so every run starts from the same box).
2. ``esml learn`` runs on it as a user would run it (its command line, default settings, walkers
   at 300 K and 600 K) until its target force MAE or ``--budget`` oracle calls; ``--resume``
   continues an earlier run to a larger ``--budget`` (with ``--inducing``, a larger GP).
3. NVT (Langevin, 300 K, 0.5 fs) for ``--ps`` picoseconds with the learned model from the start
   box, counting O–H bonds that break or form, and the shortest interatomic distance in its frames.
Writes benchmarks/results/active_periodic.json; the run folder (report.html, learning curve,
reliability plot) stays in benchmarks/results/active_periodic-run.
"""

from __future__ import annotations

import argparse
import json
import platform
import shutil
import subprocess
import sys
import time
from datetime import date
from pathlib import Path

import numpy as np
from ase import Atoms
from ase.build import molecule
from ase.io import read, write
from potential_md import md_run
from scipy.spatial.transform import Rotation

from esml.potentials import load_calculator
from esml.simulate.settings import MDSettings

RESULTS = Path(__file__).parent / "results"
WATER_PER_CUBIC_ANGSTROM = 0.6022 / 18.015  # molecules per Å³ at 1 g/cm³


def water_box(n_molecules: int, seed: int = 0) -> Atoms:
    """``n_molecules`` waters at 1 g/cm³: centres on a jittered cubic grid, random orientations."""
    rng = np.random.default_rng(seed)
    side = (n_molecules / WATER_PER_CUBIC_ANGSTROM) ** (1 / 3)
    per_axis = int(np.ceil(n_molecules ** (1 / 3)))
    sites = [(i, j, k) for i in range(per_axis) for j in range(per_axis) for k in range(per_axis)]
    chosen = rng.choice(len(sites), n_molecules, replace=False)
    water = molecule("H2O")
    water.positions -= water.get_center_of_mass()
    box = Atoms(cell=[side] * 3, pbc=True)
    for index in sorted(chosen):
        copy = water.copy()
        copy.positions = Rotation.random(random_state=int(rng.integers(2**31))).apply(copy.positions)
        copy.positions += (np.array(sites[index]) + 0.5 + rng.uniform(-0.1, 0.1, 3)) * side / per_axis
        box += copy
    box.wrap()
    return box


def learn(start: Path, run_dir: Path, budget: int, target: float, inducing: int | None, resume: bool) -> tuple[float, int]:
    """Seconds ``esml learn`` took and its exit status (1: the budget ran out before the target);
    its report and model are in ``run_dir`` either way. ``resume`` continues the run in ``run_dir``."""
    command = [str(Path(sys.executable).parent / "esml"), "learn", "--budget", str(budget), "--out", str(run_dir), "--quiet"]
    command += ["--inducing", str(inducing)] if inducing else []
    if resume:
        command += ["--resume"]
    else:
        shutil.rmtree(run_dir, ignore_errors=True)
        command += [str(start), "--oracle", "gfn2-xtb", "--target-force-mae", str(target)]
    began = time.perf_counter()
    status = subprocess.run(command).returncode
    return time.perf_counter() - began, status


def stability(start: Atoms, model: Path, picoseconds: float, trajectory: Path) -> dict:
    """potential_md.py's NVT summary, and the shortest interatomic distance in the saved frames."""
    settings = MDSettings("nvt", "langevin", 300.0, 0.5, int(picoseconds * 2000), 20)
    summary = md_run(start, load_calculator(model), settings, trajectory)
    pairs = np.triu_indices(len(start), 1)
    shortest = min(float(frame.get_all_distances(mic=True)[pairs].min()) for frame in read(trajectory, index=":"))
    return summary | {"shortest_distance_A": shortest}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--molecules", type=int, default=21)
    parser.add_argument("--budget", type=int, default=300)
    parser.add_argument("--target", type=float, default=0.05, help="force MAE (eV/Å)")
    parser.add_argument("--ps", type=float, default=20.0, help="NVT picoseconds with the learned model")
    parser.add_argument("--inducing", type=int, help="esml learn --inducing (default: its own)")
    parser.add_argument("--resume", action="store_true", help="continue the run folder of an earlier run to --budget")
    parser.add_argument("--out", type=Path, default=RESULTS / "active_periodic.json")
    args = parser.parse_args()
    box = water_box(args.molecules)
    run_dir = args.out.with_name(args.out.stem + "-run")
    run_dir.parent.mkdir(parents=True, exist_ok=True)
    start = run_dir.with_suffix(".extxyz")
    write(start, box)
    seconds, status = learn(start, run_dir, args.budget, args.target, args.inducing, args.resume)
    if not (run_dir / "model.pt").exists():
        raise SystemExit(f"esml learn exited with {status} and left no model in {run_dir}")
    report = json.loads((run_dir / "report.json").read_text())
    result = {"benchmark": "active_periodic", "date": date.today().isoformat(), "command": "python " + " ".join(sys.argv),
              "machine": f"{platform.machine()}, {platform.processor() or 'cpu'}", "atoms": len(box),
              "cell_A": float(box.cell[0, 0]), "learn_seconds": seconds, "learn_exit_status": status,
              "learn": {key: report.get(key) for key in ("status", "oracle_calls", "n_train", "n_validation",
                                                          "force_mae", "coverage_1sigma", "wall_seconds")},
              "rounds": [{"round": row["round"], "oracle_calls": row.get("oracle_calls"),
                          "force_mae": (row.get("validation") or {}).get("force_mae")} for row in report["rounds"]],
              "md": stability(box, run_dir / "model.pt", args.ps, run_dir / "md.xyz")}
    args.out.write_text(json.dumps(result, indent=1) + "\n")
    print(json.dumps({key: result[key] for key in ("atoms", "learn", "md")}, indent=1))
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
