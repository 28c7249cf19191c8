"""Labeled MD datasets for the potential and active-learning benchmarks, computed once.

    python benchmarks/md_datasets.py [--only NAME ...] [--workers 2]

Each set: start geometry relaxed with GFN2-xTB, Langevin MD with GFN2-xTB (0.5 fs,
friction 0.01/fs), 1,000 steps of equilibration, then frames at a fixed interval, each frame
labeled with the set's reference method through esml's label cache (resumable: a killed run
continues where it stopped). Written as gzipped extxyz under benchmarks/data/ with
``info['split']`` ('train'/'test', seeded) and the settings below in ``info``.

The 500 K pools are one long trajectory, a frame every 10 steps: the MD a user would sample
at random. The 300 K and 600 K test sets are 15 independent trajectories (own seeds), 10 frames
each, 200 steps (100 fs, one thermostat relaxation time) apart. One trajectory of 150 frames
10 steps apart spans only 0.75 ps, and its slow energy fluctuations do not average out: the
first acetone 600 K set drawn that way had a mean potential energy 0.18 eV above that of six
independent 1 ps GFN2-xTB runs at 600 K, and every test error on it read high.

Sets (issue #5 and #6):
  ethanol-500K     600 frames, pbe/def2-svp (density fitting), split 400 train / 200 test
  aspirin-500K   1,500 frames, gfn2-xtb, split 1000 train / 500 test
  ethanol-300K, ethanol-600K, aspirin-300K, aspirin-600K
                 150 frames each, same methods, all 'test': independent test frames
Aspirin's start geometry (benchmarks/data/aspirin-start.xyz) came from RDKit; ethanol's from ASE.
For any other molecule, :func:`sets_for` gives the same three sets (``active_learning.py --start``).
"""

from __future__ import annotations

import argparse
import gzip
import io
import time
from dataclasses import dataclass
from pathlib import Path

import ase.io
import numpy as np
from ase.build import molecule
from ase.optimize import BFGS

from esml.methods import parse_reference
from esml.qm import calculator
from esml.qm.cache import LabelCache, default_cache_path
from esml.qm.label import label_structures
from esml.simulate.dynamics import sample_langevin

DATA = Path(__file__).parent / "data"
EQUILIBRATION_STEPS = 1000


@dataclass(frozen=True)
class DatasetSpec:
    name: str
    molecule: str  # "ethanol", "aspirin" or a structure file
    method: str
    temperature_K: float
    frames: int
    n_train: int
    seed: int
    trajectories: int = 1  # independent MD runs the frames are spread over
    interval: int = 10  # MD steps between frames


TEST_SAMPLING = {"trajectories": 15, "interval": 200}


SETS = [
    DatasetSpec("ethanol-500K", "ethanol", "pbe/def2-svp", 500.0, 600, 400, 1),
    DatasetSpec("aspirin-500K", "aspirin", "gfn2-xtb", 500.0, 1500, 1000, 2),
    DatasetSpec("ethanol-300K", "ethanol", "pbe/def2-svp", 300.0, 150, 0, 3, **TEST_SAMPLING),
    DatasetSpec("ethanol-600K", "ethanol", "pbe/def2-svp", 600.0, 150, 0, 4, **TEST_SAMPLING),
    DatasetSpec("aspirin-300K", "aspirin", "gfn2-xtb", 300.0, 150, 0, 5, **TEST_SAMPLING),
    DatasetSpec("aspirin-600K", "aspirin", "gfn2-xtb", 600.0, 150, 0, 6, **TEST_SAMPLING),
]


def sets_for(name: str, start: Path, method: str) -> list[DatasetSpec]:
    """A 500 K pool and 300 K and 600 K test sets of any molecule, sized as aspirin's for an xTB
    method and as ethanol's for DFT (whose labels cost seconds each)."""
    pool, train = (1500, 1000) if method.endswith("xtb") else (600, 400)
    return [DatasetSpec(f"{name}-500K", str(start), method, 500.0, pool, train, 11),
            DatasetSpec(f"{name}-300K", str(start), method, 300.0, 150, 0, 12, **TEST_SAMPLING),
            DatasetSpec(f"{name}-600K", str(start), method, 600.0, 150, 0, 13, **TEST_SAMPLING)]


def start_geometry(name: str):
    if name == "ethanol":
        atoms = molecule("CH3CH2OH")
    else:
        atoms = ase.io.read(DATA / "aspirin-start.xyz" if name == "aspirin" else name)
    atoms.calc = calculator("gfn2-xtb")
    BFGS(atoms, logfile=None).run(fmax=0.01)
    atoms.calc = None
    return atoms


def sample(spec: DatasetSpec):
    """The set's frames, ``spec.trajectories`` MD runs from the relaxed start, each equilibrated anew."""
    xtb = calculator("gfn2-xtb")
    start = start_geometry(spec.molecule)
    per_run = spec.frames // spec.trajectories
    frames = []
    for run in range(spec.trajectories):
        seed = spec.seed + 1000 * run
        equilibrated = sample_langevin(start, xtb, spec.temperature_K, EQUILIBRATION_STEPS, EQUILIBRATION_STEPS, seed=seed)[-1]
        run_frames = sample_langevin(equilibrated, xtb, spec.temperature_K, spec.interval * per_run, spec.interval, seed=seed + 100)
        for index, frame in enumerate(run_frames):
            frame.info.update(md_run=run, md_step=EQUILIBRATION_STEPS + spec.interval * (index + 1))
        frames += run_frames
    return frames


def build(spec: DatasetSpec, cache: LabelCache, workers: int) -> Path:
    start = time.perf_counter()
    frames = sample(spec)
    method = parse_reference(spec.method)
    done = [0]

    def progress(n: int) -> None:
        done[0] += n
        if done[0] % 50 < n or done[0] == len(frames):
            print(f"  {spec.name}: {done[0]}/{len(frames)} labeled, {time.perf_counter() - start:.0f} s", flush=True)

    labeled, report = label_structures(frames, method, cache, workers=workers, on_progress=progress)
    if report.failures:
        raise SystemExit(f"{spec.name}: {len(report.failures)} frames failed, first: {report.failures[0].reason}")
    train = set(np.random.default_rng(spec.seed).permutation(len(labeled))[: spec.n_train].tolist())
    for index, atoms in enumerate(labeled):
        atoms.info.update(
            split="train" if index in train else "test", method=method.label, md_method="gfn2-xtb",
            temperature_K=spec.temperature_K,
        )
    buffer = io.StringIO()
    ase.io.write(buffer, labeled, format="extxyz")
    path = DATA / f"{spec.name}.xyz.gz"
    path.write_bytes(gzip.compress(buffer.getvalue().encode(), mtime=0))
    print(f"{spec.name}: {len(labeled)} frames ({report.computed} computed) in {time.perf_counter() - start:.0f} s -> {path}", flush=True)
    return path


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--only", nargs="*", choices=[s.name for s in SETS], help="Build only these sets.")
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--cache", type=Path, default=None, help="Label cache; default $ESML_CACHE or ~/.cache/esml/labels.sqlite.")
    args = parser.parse_args()
    cache = LabelCache(args.cache or default_cache_path())
    for spec in SETS:
        if not args.only or spec.name in args.only:
            build(spec, cache, args.workers)


if __name__ == "__main__":
    main()
