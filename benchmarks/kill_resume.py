"""Kill -9 at random moments of `esml label`, `train`, `learn` and `ingest`, then resume.

    python benchmarks/kill_resume.py [--trials 20] [--out benchmarks/results/kill_resume.json]

Each trial starts the command as a user would (its own process, its own process group), sends
SIGKILL after a uniformly random fraction (5–95 %) of the command's uninterrupted wall time, then
checks what the kill left and runs the command again to the end:

- **outputs**: every output is either the one from before the run (byte for byte) or complete
  (readable, every frame or the whole model), never a truncated file;
- **label**: the rerun computes only the frames the cache lacks (its "computed" count plus the
  rows the kill left equals the number of frames): no oracle call is repeated;
- **train**: `--resume` continues from the checkpoint when one was written, else the run starts
  again; the final model loads and is the uninterrupted run's, weight for weight;
- **learn**: `--resume` continues; the run's own count of oracle computations equals the label
  cache's rows (each frame computed once), and the run ends within its budget;
- **ingest**: the store passes SQLite's integrity check, and the rerun ends with exactly the
  calculations and sources of an uninterrupted ingest (nothing lost, nothing twice).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import random
import re
import shutil
import signal
import sqlite3
import subprocess
import sys
import tempfile
import time
from datetime import date
from pathlib import Path

import ase.io
import torch
from ase.build import molecule

ESML = str(Path(sys.executable).with_name("esml"))
OUTPUTS = Path(__file__).resolve().parents[2] / "shared" / "data" / "outputs"
FRAMES = 150  # ethanol frames to label: about as long to compute as the command takes to start
ENV = {**os.environ, "COLUMNS": "200", "OMP_NUM_THREADS": "1"}


def run(arguments: list, cwd: Path) -> subprocess.CompletedProcess:
    return subprocess.run([ESML, *map(str, arguments)], cwd=cwd, capture_output=True, text=True, env=ENV, timeout=900)


def killed(arguments: list, cwd: Path, after: float) -> None:
    """Start the command and SIGKILL its whole process group after ``after`` seconds (if still running)."""
    process = subprocess.Popen([ESML, *map(str, arguments)], cwd=cwd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                               env=ENV, start_new_session=True)
    try:
        process.wait(timeout=after)
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)
        process.wait()


def timed(arguments: list, cwd: Path, allowed: tuple[int, ...] = (0,)) -> tuple[float, subprocess.CompletedProcess]:
    """Run to the end; ``allowed`` exit statuses (learn: 1 when its budget ends first, as here)."""
    start = time.perf_counter()
    result = run(arguments, cwd)
    if result.returncode not in allowed:
        raise RuntimeError(f"esml {' '.join(map(str, arguments))} failed: {result.stderr[-400:]}")
    return time.perf_counter() - start, result


def rows(database: Path, table: str) -> int:
    if not database.exists():
        return 0
    with sqlite3.connect(database) as connection:
        try:
            return connection.execute(f"SELECT COUNT(*) FROM {table}").fetchone()[0]
        except sqlite3.OperationalError:  # the kill came before the table was made
            return 0


def remove_database(path: Path) -> None:
    """An SQLite file and its write-ahead log: a log left beside a new file of the same name corrupts it."""
    for suffix in ("", "-wal", "-shm", "-journal"):
        Path(f"{path}{suffix}").unlink(missing_ok=True)


def old_or_complete(path: Path, old: bytes | None, complete) -> str:
    """'old', 'complete', or 'broken' (a half-written output)."""
    if not path.exists():
        return "old" if old is None else "broken"
    if old is not None and path.read_bytes() == old:
        return "old"
    try:
        return "complete" if complete(path) else "broken"
    except Exception:
        return "broken"


def label_trials(work: Path, trials: int, rng: random.Random) -> dict:
    frames = []
    for seed in range(FRAMES):
        atoms = molecule("CH3CH2OH")
        atoms.rattle(0.05, seed=seed)
        frames.append(atoms)
    ase.io.write(work / "in.xyz", frames)
    command = ["label", "in.xyz", "-m", "gfn2-xtb", "-o", "out.xyz", "--cache", "cache.sqlite", "--threads", "1"]
    seconds, _ = timed(command, work)
    old = (work / "out.xyz").read_bytes()  # a complete earlier output the trial's run overwrites
    outcomes, repeated = [], 0
    for _ in range(trials):
        remove_database(work / "cache.sqlite")
        (work / "out.xyz").write_bytes(old)
        killed(command, work, rng.uniform(0.05, 0.95) * seconds)
        outcomes.append(old_or_complete(work / "out.xyz", old, lambda p: len(ase.io.read(p, ":")) == FRAMES))
        cached = rows(work / "cache.sqlite", "labels")
        _, result = timed(command, work)
        computed = int(re.search(rf"gfn2-xtb\s*│\s*{FRAMES}\s*│\s*(\d+)", result.stdout + result.stderr).group(1))
        repeated += computed - (FRAMES - cached)
    return {"trials": trials, "uninterrupted_seconds": seconds, "outputs": _count(outcomes), "repeated_oracle_calls": repeated}


def train_trials(work: Path, trials: int, rng: random.Random) -> dict:
    ase.io.write(work / "data.xyz", ase.io.read(work.parent / "label" / "out.xyz", ":30"))
    command = ["train", "--data", "data.xyz", "-o", "model.pt", "--epochs", "60", "--batch-size", "4", "--threads", "1",
               "--option", 'hidden={"1": [16, 8], "6": [16, 8], "8": [16, 8]}', "-q"]
    seconds, _ = timed(command, work)
    reference = torch.load(work / "model.pt", weights_only=False)
    old = (work / "model.pt").read_bytes()
    outcomes, identical, resumed = [], 0, 0
    for _ in range(trials):
        (work / "model.pt").write_bytes(old)
        (work / "model.pt.ckpt").unlink(missing_ok=True)
        killed(command, work, rng.uniform(0.05, 0.95) * seconds)
        outcomes.append(old_or_complete(work / "model.pt", old, lambda p: "state" in torch.load(p, weights_only=False)))
        again = command + (["--resume"] if (work / "model.pt.ckpt").exists() else [])
        resumed += "--resume" in again
        timed(again, work)
        final = torch.load(work / "model.pt", weights_only=False)
        identical += all(torch.equal(final["state"][k], reference["state"][k]) for k in reference["state"])
    return {"trials": trials, "uninterrupted_seconds": seconds, "outputs": _count(outcomes), "resumed_from_checkpoint": resumed,
            "final_model_identical_to_uninterrupted": identical}


def learn_trials(work: Path, trials: int, rng: random.Random) -> dict:
    ase.io.write(work / "start.xyz", molecule("CH3CH2OH"))
    settings = ["--oracle", "gfn2-xtb", "--budget", "14", "--temperature", "300", "--walkers", "1", "--steps", "40",
                "--batch", "3", "--validation", "2", "--inducing", "50", "-q"]
    (work / "reference").mkdir()
    seconds, _ = timed(["learn", "../start.xyz", *settings, "-o", "run", "--cache", "cache.sqlite"], work / "reference", (0, 1))
    outcomes, mismatched, over_budget = [], 0, 0
    for trial in range(trials):
        folder = work / f"trial{trial}"
        folder.mkdir()
        killed(["learn", "../start.xyz", *settings, "-o", "run", "--cache", "cache.sqlite"], folder, rng.uniform(0.05, 0.95) * seconds)
        outcomes.append(old_or_complete(folder / "run" / "state.json", None, lambda p: "config" in json.loads(p.read_text())))
        resume = ["learn", "--resume", "-o", "run", "--cache", "cache.sqlite", "-q"] if (folder / "run" / "state.json").exists() \
            else ["learn", "../start.xyz", *settings, "-o", "run", "--cache", "cache.sqlite"]
        timed(resume, folder, (0, 1))
        state = json.loads((folder / "run" / "state.json").read_text())
        mismatched += state["oracle_computed"] != rows(folder / "cache.sqlite", "labels")
        over_budget += state["oracle_calls"] > 14
        shutil.rmtree(folder)
    return {"trials": trials, "uninterrupted_seconds": seconds, "state_file": _count(outcomes),
            "runs_whose_oracle_count_differs_from_the_cache": mismatched, "runs_over_budget": over_budget}


def ingest_trials(work: Path, trials: int, rng: random.Random) -> dict:
    command = ["ingest", str(OUTPUTS), "--db", "store.db", "-q"]
    seconds, _ = timed(command, work)
    expected = (rows(work / "store.db", "calculations"), rows(work / "store.db", "sources"))
    healthy, lost = 0, 0
    for _ in range(trials):
        remove_database(work / "store.db")
        killed(command, work, rng.uniform(0.05, 0.95) * seconds)
        if (work / "store.db").exists():
            with sqlite3.connect(work / "store.db") as connection:
                healthy += connection.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
        else:
            healthy += 1
        timed(command, work)
        lost += (rows(work / "store.db", "calculations"), rows(work / "store.db", "sources")) != expected
    return {"trials": trials, "uninterrupted_seconds": seconds, "store_intact_after_kill": healthy,
            "reruns_not_matching_an_uninterrupted_ingest": lost, "calculations": expected[0], "sources": expected[1]}


def _count(outcomes: list[str]) -> dict:
    return {kind: outcomes.count(kind) for kind in ("old", "complete", "broken")}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--trials", type=int, default=20)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", type=Path, default=Path("benchmarks/results/kill_resume.json"))
    args = parser.parse_args()
    rng = random.Random(args.seed)
    root = Path(tempfile.mkdtemp(prefix="esml-kill-"))
    result = {"date": str(date.today()), "machine": f"{platform.node()} ({os.cpu_count()} cores)",
              "command": f"python benchmarks/kill_resume.py --trials {args.trials}"}
    for name, trial in (("label", label_trials), ("train", train_trials), ("ingest", ingest_trials), ("learn", learn_trials)):
        (root / name).mkdir()
        start = time.perf_counter()
        result[name] = trial(root / name, args.trials, rng)
        print(name, json.dumps(result[name]), f"({time.perf_counter() - start:.0f} s)", flush=True)
    shutil.rmtree(root)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=1))


if __name__ == "__main__":
    main()
