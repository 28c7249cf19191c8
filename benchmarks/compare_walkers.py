"""Do the active learner's walkers move the same in another checkout of esml? (issue #32's check
that one MD loop for everything changed no trajectory.)

    git worktree add /tmp/before 32aa1d4
    OMP_NUM_THREADS=1 python benchmarks/compare_walkers.py --before /tmp/before

Runs one ethanol walker at 500 K for two rounds of 100 steps with GFN2-xTB forces (σ a fixed 1 %
of each force, so the walk is never stopped) through ``esml.active.walkers.explore`` of this
checkout and of ``--before``, and prints the largest difference of the visited positions (Å).
One thread: xTB's threaded sums differ in the 14th digit, which MD amplifies.
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import sys
from pathlib import Path

import numpy as np
from ase.build import molecule

from esml.active import walkers
from esml.methods import parse_method
from esml.qm.engine import ReferenceCalculator
from esml.simulate.dynamics import bonds


class WithSigma(ReferenceCalculator):
    """GFN2-xTB with a made-up force σ of 1 % of each force: the walkers ask for one."""

    implemented_properties = [*ReferenceCalculator.implemented_properties, "forces_std"]

    def calculate(self, atoms=None, properties=("energy",), system_changes=None):
        super().calculate(atoms, ["energy", "forces"])
        self.results["forces_std"] = 0.01 * np.abs(self.results["forces"])


def visited(module) -> np.ndarray:
    start = molecule("CH3CH2OH")
    walker = module.Walker(0, 500.0, start.copy(), start.copy())
    settings = module.WalkSettings(steps=100, interval=10)
    calculator = WithSigma(parse_method("gfn2-xtb"))
    frames = []
    for seed in (7, 8):
        walk = module.explore(walker, calculator, settings, seed, lambda sigma: float(sigma.mean()), 1e9, 1e10, bonds(start))
        frames += [visit.atoms.positions for visit in walk.visits]
    return np.array(frames)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--before", type=Path, required=True, help="Root of the other checkout.")
    args = parser.parse_args()
    spec = importlib.util.spec_from_file_location("walkers_before", args.before / "esml" / "active" / "walkers.py")
    before = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = before  # dataclasses look their module up there
    spec.loader.exec_module(before)
    ours, theirs = visited(walkers), visited(before)
    print(json.dumps({"frames": len(ours), "max_position_difference_angstrom": float(np.abs(ours - theirs).max())}))


if __name__ == "__main__":
    main()
