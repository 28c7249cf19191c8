"""Force fields on the field's own tables (issue #35): revised MD17 and 3BPA, MACE trained beside.

    python benchmarks/force_field_tables.py --table rmd17 --molecule aspirin [--n-train 1000] [--splits 1 2 3]
    python benchmarks/force_field_tables.py --table 3bpa
        [--minutes 60] [--threads 1] [--models esml-mace mace] [--parallel]

The protocols are the tables' own:
- **revised MD17** (Christensen & von Lilienfeld 2020; MACE paper Table 1): for each split, train on
  the first ``--n-train`` frames of its 1,000 training frames, validation carved from those (5 %;
  20 % with 50 frames, so that the best weights are chosen on 10 frames), test on the split's 1,000
  test frames; energy MAE per structure (meV) and force-component MAE (meV/Å), mean ± standard
  deviation over the splits.
- **3BPA** (Kovács et al. 2021; MACE paper Table 2): train on train_300K.xyz (10 % of it for
  validation), the isolated atoms of iso_atoms.xyz as the per-element references; test on
  test_300K.xyz and test_600K.xyz; energy RMSE per structure (meV) and force RMSE (meV/Å).

esml trains exactly as a user would: ``esml train --model mace ...`` then ``esml evaluate``, each a
process of its own (its peak memory is measured by the kernel); the commands are in the JSON.
Then ``esml md``: ``--md-ps`` (20) ps of NVT (Langevin, 0.5 fs) at 500 K (revised MD17) or 600 K
(3BPA) from the first test frame, counting covalent bonds broken or formed.
MACE (mace-torch in its own venv, ``make peers``) trains with ``mace_run_train``'s documented
settings for the same wall-clock budget on the same files (benchmarks/peers/mace_train.py).
With ``--parallel`` the two train at the same time on ``--threads`` threads each, so they share the
machine's conditions. Every run keeps its folder under benchmarks/results/force_fields/; an
interrupted esml training continues from its checkpoint when the command is run again, and a
finished run is reused. Writes benchmarks/results/force_fields-TABLE[-MOLECULE-N].json and a plot
of error against training time beside the published rows.
"""

from __future__ import annotations

import argparse
import itertools
import json
import os
import platform
import statistics
import subprocess
import sys
import time
from dataclasses import dataclass
from datetime import date
from pathlib import Path

import ase.io
from peer_envs import PEERS, peer_python

from esml.structures import read_structures

HERE = Path(__file__).resolve().parent
DATA = HERE.parents[1] / "shared" / "data"
RUNS = HERE / "results" / "force_fields"
ESML = Path(os.path.normpath(Path(sys.executable).absolute().with_name("esml")))  # the venv's, not its interpreter's target

#: Published rows (MACE paper, arXiv 2206.07697, Tables 1 and 2; PaiNN, NequIP as quoted there):
#: revised MD17 energy MAE meV / force MAE meV/Å; 3BPA energy RMSE meV / force RMSE meV/Å.
PUBLISHED = {
    ("rmd17", "aspirin", 1000): {"MACE": (2.2, 6.6), "NequIP": (2.3, 8.2), "PaiNN": (6.9, 16.1), "GAP": (17.7, 44.9), "ANI": (25.4, 75.0)},
    ("rmd17", "ethanol", 1000): {"MACE": (0.4, 2.1), "NequIP": (0.4, 2.8), "PaiNN": (2.7, 10.0), "GAP": (3.5, 18.1), "ANI": (7.7, 45.6)},
    ("rmd17", "aspirin", 50): {"MACE": (17.0, 43.9), "NequIP": (19.5, 52.0)},
    ("rmd17", "ethanol", 50): {"MACE": (6.7, 32.6), "NequIP": (8.7, 40.2)},
    ("3bpa", "300K", None): {"MACE": (3.0, 8.8), "NequIP": (3.3, 10.8), "ACE": (7.1, 27.1), "GAP": (22.8, 87.3)},
    ("3bpa", "600K", None): {"MACE": (9.7, 21.8), "NequIP": (11.2, 26.4), "ACE": (24.0, 64.3), "GAP": (61.4, 151.9)},
}


@dataclass(frozen=True)
class Run:
    """One training: its folder, its files, and what its test sets are called."""

    name: str
    train: Path  # the frames esml train reads (validation carved from them)
    valid_fraction: float
    tests: dict[str, Path]
    md_temperature: float  # K, the NVT stability run from the first test frame
    references: Path | None = None  # isolated-atom energies

    @property
    def folder(self) -> Path:
        return RUNS / self.name


def rmd17_runs(data: Path, molecule: str, n_train: int, splits: list[int]) -> list[Run]:
    runs = []
    for split in splits:
        name = f"rmd17-{molecule}-{n_train}-split{split:02d}"
        source = data / "rmd17" / f"rmd17_{molecule}_train_{split:02d}.npz"
        train = source if n_train == 1000 else subset(source, n_train, RUNS / name / "train.xyz")
        runs.append(Run(name, train, 0.05 if n_train >= 200 else 0.2, {"test": data / "rmd17" / f"rmd17_{molecule}_test_{split:02d}.npz"}, 500.0))
    return runs


def bpa_runs(data: Path) -> list[Run]:
    folder = data / "3bpa"
    return [Run("3bpa", folder / "train_300K.xyz", 0.1, {"300K": folder / "test_300K.xyz", "600K": folder / "test_600K.xyz"},
                600.0, folder / "iso_atoms.xyz")]


def subset(source: Path, n: int, target: Path) -> Path:
    """The first ``n`` frames of ``source`` as extxyz (the splits are already random)."""
    if not target.exists():
        target.parent.mkdir(parents=True, exist_ok=True)
        ase.io.write(target, read_structures(source)[:n], format="extxyz")
    return target


def run_measured(command: list[str], threads: int, log: Path, check: bool = True) -> tuple[float, float]:
    """Run ``command``; returns (seconds, peak resident memory in MB) of that process alone.
    ``check=False`` accepts exit status 1 (MD that the model ended: its JSON says why)."""
    environment = {**os.environ, "OMP_NUM_THREADS": str(threads), "PYTHONWARNINGS": "ignore",
                   "TORCH_FORCE_NO_WEIGHTS_ONLY_LOAD": "1"}
    start = time.perf_counter()
    with log.open("a") as output:
        process = subprocess.Popen(command, stdout=output, stderr=subprocess.STDOUT, env=environment, cwd=PEERS)
        _, status, usage = os.wait4(process.pid, 0)
    if os.waitstatus_to_exitcode(status) not in ((0,) if check else (0, 1)):
        raise SystemExit(f"{' '.join(map(str, command))} failed; see {log}")
    return time.perf_counter() - start, usage.ru_maxrss / 1024


def esml_commands(run: Run, minutes: float, threads: int, md_ps: float) -> tuple[list, list[list], list]:
    """The README's commands for this run: one `esml train`, then one `esml evaluate` per test set
    and `esml md` (NVT, Langevin, 0.5 fs) from the first test frame."""
    model = run.folder / "esml-mace.pt"
    train = [str(ESML), "train", "--model", "mace", "--data", str(run.train), "--valid-fraction", str(run.valid_fraction),
             "--max-minutes", str(minutes), "--epochs", "1000000", "--patience", "1000000", "--threads", str(threads),
             "--out", str(model), "--quiet"]
    if run.references is not None:
        train += ["--reference-energies", str(run.references)]
    if model.with_name(model.name + ".ckpt").exists():
        train.append("--resume")  # an interrupted training continues where it stopped
    evaluations = [[str(ESML), "evaluate", str(model), str(path), "--json", str(run.folder / f"esml-mace-{name}.json")]
                   for name, path in run.tests.items()]
    start = run.folder / "md-start.xyz"
    if not start.exists():
        ase.io.write(start, read_structures(next(iter(run.tests.values())))[0], format="extxyz")
    md = [str(ESML), "md", str(model), str(start), "--ensemble", "nvt", "--thermostat", "langevin", "--temperature",
          str(run.md_temperature), "--steps", str(round(md_ps * 2000)), "--timestep", "0.5", "--interval", "200",
          "--out", str(run.folder / "esml-mace-md.xyz"), "--json", str(run.folder / "esml-mace-md.json"), "--quiet"]
    return train, evaluations, md


def start_esml(run: Run, minutes: float, threads: int, md_ps: float, previous: dict | None = None):
    """Train and test (unless ``previous`` holds that run's results), then the MD it lacks."""
    train, evaluations, md = esml_commands(run, minutes, threads, md_ps)
    log = run.folder / "esml-mace.log"

    def finish() -> dict:
        result = previous
        if result is None:
            seconds, memory = run_measured(train, threads, log)
            for command in evaluations:
                run_measured(command, threads, log)
            history = recorded_history(run.folder / "esml-mace.pt")
            result = {"model": "esml-mace", "command": " ".join(train).replace(str(HERE.parent) + "/", ""),
                      "wall_seconds_this_session": seconds, "train_seconds": sum(h["seconds"] for h in history),
                      "epochs": len(history), "peak_memory_mb": memory, "threads": threads, "curve": training_curve(history),
                      "test": {name: json.loads((run.folder / f"esml-mace-{name}.json").read_text()) for name in run.tests}}
        if md_ps > 0 and not md_done(result, md_ps):
            seconds, _ = run_measured(md, threads, log, check=False)
            summary = json.loads((run.folder / "esml-mace-md.json").read_text())
            result["md"] = {"ps": md_ps, "temperature": run.md_temperature, "command": " ".join(md), "wall_seconds": seconds, **summary}
        return result
    return finish


def md_done(result: dict, md_ps: float) -> bool:
    return md_ps <= 0 or (result.get("md") or {}).get("ps") == md_ps


def training_curve(history: list[dict]) -> list[tuple[float, float, float]]:
    """(seconds of training so far, validation force MAE eV/Å, validation energy MAE eV/atom) per epoch."""
    elapsed = list(itertools.accumulate(epoch["seconds"] for epoch in history))
    return [(seconds, epoch["valid_force_mae"], epoch["valid_energy_mae"]) for seconds, epoch in zip(elapsed, history)]


def recorded_history(model: Path) -> list[dict]:
    """The epochs the training recorded in the model file."""
    from esml.potentials.files import metadata

    return metadata(model)["history"]


def start_mace(run: Run, minutes: float, threads: int):
    """mace_train.py in the MACE venv; the validation frames are the ones esml carves (same seed)."""
    from esml.training.data import split_frames

    folder = run.folder / "mace"
    folder.mkdir(parents=True, exist_ok=True)
    splits = split_frames(read_structures(run.train), run.valid_fraction, seed=0)
    files = {"train": folder / "train.xyz", "valid": folder / "valid.xyz"}
    for name, frames in (("train", splits.train), ("valid", splits.valid)):
        ase.io.write(files[name], frames, format="extxyz")
    tests = {}
    for name, path in run.tests.items():
        tests[name] = folder / f"test-{name}.xyz"
        if not tests[name].exists():
            ase.io.write(tests[name], read_structures(path), format="extxyz")
    answer = folder / "result.json"
    command = [str(peer_python("mace")), "mace_train.py", files["train"], files["valid"], ",".join(map(str, tests.values())),
               minutes, threads, answer, folder / "work"]

    def finish() -> dict:
        seconds, memory = run_measured(list(map(str, command)), threads, folder / "mace.log")
        result = json.loads(answer.read_text())
        result["test"] = dict(zip(run.tests, result.pop("tests")))
        return {**result, "peak_memory_mb": memory, "wall_seconds_this_session": seconds, "threads": threads}
    return finish


def train_run(run: Run, models: list[str], minutes: float, threads: int, parallel: bool, md_ps: float) -> dict:
    """Every model of ``models`` on ``run``; models trained with this budget are read from their
    folder (and given the MD they lack)."""
    run.folder.mkdir(parents=True, exist_ok=True)
    trained = {model: result for model in models
               if (path := run.folder / f"{model}.json").exists() and (result := json.loads(path.read_text()))["budget_minutes"] == minutes}
    done = {model: result for model, result in trained.items() if model != "esml-mace" or md_done(result, md_ps)}
    starters = {"esml-mace": lambda: start_esml(run, minutes, threads, md_ps, trained.get("esml-mace")),
                "mace": lambda: start_mace(run, minutes, threads)}
    jobs = {model: starters[model]() for model in models if model not in done}
    if parallel and len(jobs) > 1:
        from concurrent.futures import ThreadPoolExecutor

        with ThreadPoolExecutor(len(jobs)) as pool:
            futures = {model: pool.submit(job) for model, job in jobs.items()}
            finished = {model: future.result() for model, future in futures.items()}
    else:
        finished = {model: job() for model, job in jobs.items()}
    for model, result in finished.items():
        result["budget_minutes"] = minutes  # a larger budget later continues esml's training from its checkpoint
        (run.folder / f"{model}.json").write_text(json.dumps(result, indent=2))
    return {**done, **finished}


def summary(results: dict[str, dict], metric: tuple[str, str]) -> dict:
    """Mean ± standard deviation over the runs (splits) of each model and test set, in meV and meV/Å."""
    energy_key, force_key = metric
    table = {}
    for model in {model for by_model in results.values() for model in by_model}:
        per_test = {}
        tests = next(iter(results.values()))[model]["test"]
        for test in tests:
            energies = [1000 * by_model[model]["test"][test][energy_key] for by_model in results.values() if model in by_model]
            forces = [1000 * by_model[model]["test"][test][force_key] for by_model in results.values() if model in by_model]
            per_test[test] = {"energy": mean_sd(energies), "force": mean_sd(forces), "n_runs": len(forces)}
        table[model] = per_test
    return table


def mean_sd(values: list[float]) -> list[float]:
    return [statistics.fmean(values), statistics.stdev(values) if len(values) > 1 else 0.0]


def plot(results: dict[str, dict], published: dict, metric_label: str, path: Path, force_key: str, threads: int) -> None:
    """Validation force error against training time (esml), test errors at the end (every model),
    published test errors as lines."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    figure, axis = plt.subplots(figsize=(7, 4.5))
    for run_name, by_model in results.items():
        esml = by_model.get("esml-mace")
        if esml:
            curve = esml["curve"]
            axis.plot([c[0] / 3600 for c in curve], [1000 * c[1] for c in curve], color="C0", alpha=0.4, linewidth=1)
        for model, colour in (("esml-mace", "C0"), ("mace", "C1")):
            if model in by_model:
                for test, metrics in by_model[model]["test"].items():
                    axis.scatter(by_model[model]["train_seconds"] / 3600, 1000 * metrics[force_key], color=colour,
                                 marker="o" if test in ("test", "300K") else "s", zorder=3)
    for row, (label, (_, force)) in enumerate(published.items()):
        axis.axhline(force, color="grey", linestyle=":", linewidth=1)
        axis.text(axis.get_xlim()[1] if row else 0, force, f" {label} {force}", fontsize=7, va="bottom", color="grey")
    axis.set_yscale("log")
    axis.set_xlabel(f"training time (h; {threads} thread(s) per model, {os.cpu_count()}-core CPU)")
    axis.set_ylabel(f"force error (meV/Å; test: {metric_label})")
    axis.set_title("line: esml's validation force MAE during training; markers: test (blue esml, orange MACE here;\n"
                   "circles the first test set, squares the second); dotted: published test errors", fontsize=8)
    figure.tight_layout()
    figure.savefig(path, dpi=120)
    plt.close(figure)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--table", choices=("rmd17", "3bpa"), required=True)
    parser.add_argument("--molecule", default="aspirin")
    parser.add_argument("--n-train", type=int, default=1000)
    parser.add_argument("--splits", type=int, nargs="*", default=[1, 2, 3])
    parser.add_argument("--minutes", type=float, default=60.0, help="Training budget of each model on each split.")
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--models", nargs="*", choices=("esml-mace", "mace"), default=["esml-mace", "mace"])
    parser.add_argument("--parallel", action="store_true", help="Train esml and MACE at the same time.")
    parser.add_argument("--md-ps", type=float, default=20.0, help="NVT stability run of esml's model (ps; 0 for none).")
    parser.add_argument("--data", type=Path, default=DATA, help="The shared data folder (rmd17/, 3bpa/).")
    args = parser.parse_args()
    if args.table == "rmd17":
        runs, stem = rmd17_runs(args.data, args.molecule, args.n_train, args.splits), f"force_fields-rmd17-{args.molecule}-{args.n_train}"
        metric, label = ("energy_mae_per_structure", "force_mae"), "MAE"
        published = {test: PUBLISHED[("rmd17", args.molecule, args.n_train)] for test in ("test",)}
    else:
        runs, stem = bpa_runs(args.data), "force_fields-3bpa"
        metric, label = ("energy_rmse_per_structure", "force_rmse"), "RMSE"
        published = {test: PUBLISHED[("3bpa", test, None)] for test in ("300K", "600K")}
    results = {}
    for run in runs:
        print(f"{run.name}: {', '.join(args.models)} for {args.minutes:g} min each", flush=True)
        results[run.name] = train_run(run, args.models, args.minutes, args.threads, args.parallel, args.md_ps)
        for model, result in results[run.name].items():
            for test, metrics in result["test"].items():
                print(f"  {model} {test}: energy {1000 * metrics[metric[0]]:.2f} meV, force {1000 * metrics[metric[1]]:.2f} meV/Å "
                      f"({result['epochs']} epochs, {result['train_seconds'] / 60:.0f} min)", flush=True)
    out = HERE / "results" / f"{stem}.json"
    out.write_text(json.dumps({
        "date": date.today().isoformat(), "machine": f"{platform.machine()}, {os.cpu_count()} cores", "table": args.table,
        "protocol": __doc__.split("The protocols are the tables' own:")[1].split("esml trains exactly")[0].strip(),
        "metric": {"energy": metric[0], "force": metric[1], "units": "meV per structure, meV/Å"},
        "minutes_per_model": args.minutes, "threads": args.threads, "parallel": args.parallel,
        "summary": summary(results, metric), "published": published, "runs": results}, indent=2))
    plot(results, next(iter(published.values())), label, out.with_suffix(".png"), metric[1], args.threads)
    print(f"wrote {out}")


if __name__ == "__main__":
    main()
