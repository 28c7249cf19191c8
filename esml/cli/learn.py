"""``esml learn``: the main job. A potential that picks its own oracle calls until it is good enough."""

from __future__ import annotations

from pathlib import Path

import typer

from esml.active.config import LearnConfig
from esml.errors import EsmlError
from esml.methods import PYSCF_GUESSES

DEFAULTS = LearnConfig()


#: Options that describe the run itself: on --resume it keeps what it was started with.
RUN_SETTINGS = ("oracle", "initial_guess", "baseline", "target_force_mae", "temperature", "walkers", "steps", "batch", "validation",
                "validation_refresh", "seed", "db")


def learn_command(
    context: typer.Context,
    start: Path = typer.Argument(None, help="Start structure (any file ase.io reads; its first frame). Not needed with --resume."),
    oracle: str = typer.Option(DEFAULTS.oracle, "--oracle", help="Reference method, e.g. gfn2-xtb or pbe/def2-svp (density fitting on for HF and DFT)."),
    initial_guess: str = typer.Option(DEFAULTS.initial_guess, "--initial-guess", help=f"Where the oracle's SCF starts (PySCF methods): {', '.join(PYSCF_GUESSES)}, or a learned Hamiltonian: ml (shipped, PBE/def2-SVP) or a model file. Labels do not depend on it."),
    baseline: str = typer.Option(DEFAULTS.baseline, "--baseline", help="Cheap method the model corrects (auto: gfn2-xtb unless the oracle is xTB; none: learn the whole energy)."),
    target_force_mae: float = typer.Option(DEFAULTS.target_force_mae, "--target-force-mae", min=0.0, help="Stop when validation force MAE and predicted MAE are under this (eV/Å)."),
    temperature: str = typer.Option(",".join(f"{t:g}" for t in DEFAULTS.temperatures), "--temperature", help="Walker temperatures (K), comma separated."),
    budget: int = typer.Option(None, "--budget", min=1, help=f"Most oracle calls, validation frames included (default {DEFAULTS.budget}; with --resume, the run's own unless given)."),
    out: Path = typer.Option(Path("esml-learn"), "--out", "-o", help="Run folder: model.pt, report.json, report.html, data."),
    resume: bool = typer.Option(False, "--resume", help="Continue the run in --out (a larger --budget may be given)."),
    db: str = typer.Option(None, "--db", help="Store for the labeled frames and the run's dataset; default OUT/store.sqlite."),
    walkers: int = typer.Option(DEFAULTS.walkers_per_temperature, "--walkers", min=1, help="MD walkers per temperature."),
    steps: int = typer.Option(DEFAULTS.walk.steps, "--steps", min=10, help=f"MD steps per walker per round ({DEFAULTS.walk.timestep_fs:g} fs each)."),
    batch: int = typer.Option(DEFAULTS.batch_size, "--batch", min=1, help="Most new oracle calls per round."),
    inducing: int = typer.Option(None, "--inducing", min=10, help=f"Most inducing environments per element of the GP (default {DEFAULTS.gp.max_inducing}); a large cell needs more (BENCHMARKS.md), each costs fit and MD time. May be raised on --resume."),
    validation: int = typer.Option(DEFAULTS.n_validation, "--validation", min=2, help="Validation frames, drawn from the model's own MD; each is labeled once."),
    validation_refresh: float = typer.Option(DEFAULTS.validation_refresh, "--validation-refresh", min=0.0, help=(
        "Draw the validation frames again from the current model's MD once the training set has grown this many "
        "times since they were drawn; the old ones join the training set. 0: never.")),
    workers: int = typer.Option(DEFAULTS.workers, "--workers", "-j", min=1, help="Oracle worker processes."),
    scheduler: str = typer.Option(DEFAULTS.scheduler, "--scheduler", help="Dask scheduler address for the oracle calls."),
    cache: Path = typer.Option(None, help="Label cache (SQLite); default $ESML_CACHE or ~/.cache/esml/labels.sqlite."),
    seed: int = typer.Option(DEFAULTS.seed),
    quiet: bool = typer.Option(False, "--quiet", "-q", help="No progress bars."),
) -> None:
    """Learn a potential by active learning with GP uncertainty; writes OUT/model.pt and OUT/report.html.

    Exit status 0 when the target is reached, 1 when the budget or the rounds ran out first
    (everything learned so far is kept; --resume with a larger --budget continues).
    """
    from dataclasses import replace

    from esml.active import run_files
    from esml.active.loop import learn, resumed_config
    from esml.atomic import check_folder
    from esml.cli.console import console
    from esml.data.store import open_store

    if resume and start is not None:
        raise EsmlError("give either a start structure (new run) or --resume (continue the run in --out), not both")
    check_folder(out, "the run (--out)")
    if db is not None:  # a store that cannot be opened is refused before any oracle call
        open_store(db).engine.dispose()
    if resume:
        given = [name for name in RUN_SETTINGS if _given(context, name)]
        if given:
            options = ", ".join("--" + name.replace("_", "-") for name in given)
            raise EsmlError(f"{options}: a resumed run keeps the settings it was started with (state.json); only "
                            "--budget, --inducing, --workers, --scheduler and --cache may change; start a new run in another --out")
        config, changed = resumed_config(out, budget=budget, max_inducing=inducing, workers=_given_value(context, "workers", workers),
                                         scheduler=_given_value(context, "scheduler", scheduler))
        structure = None
        cache = cache or (Path(recorded) if (recorded := run_files.load_record(out)["label_cache"]) else None)
        if changed and not quiet:
            console.print(f"resuming {out} with {', '.join(changed)}", highlight=False)
    else:
        structure = read_start(start)
        config = LearnConfig(
            oracle=oracle, initial_guess=initial_guess, baseline=baseline, target_force_mae=target_force_mae,
            temperatures=parse_temperatures(temperature), budget=budget or DEFAULTS.budget,
            walkers_per_temperature=walkers, walk=replace(DEFAULTS.walk, steps=steps), batch_size=batch,
            n_validation=validation, validation_refresh=validation_refresh,
            gp=replace(DEFAULTS.gp, max_inducing=inducing or DEFAULTS.gp.max_inducing),
            workers=workers, scheduler=scheduler, seed=seed,
        )
    state = learn(out, config, label_cache(cache), structure, db, hooks(quiet))
    finish_message(state, out, config)


def label_cache(path: Path | None):
    from esml.qm.cache import LabelCache, default_cache_path

    return LabelCache(path or default_cache_path())


def _given(context: typer.Context, name: str) -> bool:
    """Whether the option ``name`` was given on the command line (or by its environment variable)."""
    source = context.get_parameter_source(name)
    return source is not None and source.name in ("COMMANDLINE", "ENVIRONMENT")


def _given_value(context: typer.Context, name: str, value):
    return value if _given(context, name) else None


def read_start(start: Path | None):
    from esml.structures import read_structures

    if start is None:
        raise EsmlError("give a start structure (e.g. start.xyz), or --resume to continue a run")
    return read_structures(start)[0]


def parse_temperatures(text: str) -> tuple[float, ...]:
    from esml.cli.lists import numbers

    values = numbers(text, "--temperature", float, "temperatures in K", "300,600")
    if not values or any(v <= 0 for v in values):
        raise EsmlError(f"--temperature {text!r}: give one or more positive temperatures in K, e.g. 300,600")
    return values


def hooks(quiet: bool):
    from esml.active.loop import Hooks
    from esml.cli.console import console, progress_bar

    if quiet:
        return Hooks()
    return Hooks(log=lambda text: console.print(text, highlight=False),
                 progress=lambda total, text: progress_bar(total, text))


def finish_message(state, out: Path, config) -> None:
    from esml.active.run_files import Status
    from esml.cli.console import console

    last = state.rounds[-1].get("validation", {}) if state.rounds else {}
    mae = last.get("force_mae")
    error = "no validation yet" if mae is None else f"validation force MAE {1000 * mae:.1f} meV/Å"
    if state.saved_model:
        error += f" (saved model, cross-validated: {1000 * state.saved_model['force_mae']:.1f})"
    console.print(f"{state.status}: {state.oracle_calls} oracle calls, {error}, {state.wall_seconds:.0f} s; "
                  f"model {out / 'model.pt'}, report {out / 'report.html'}", highlight=False)
    if state.status != Status.CONVERGED:
        console.print(f"target {1000 * config.target_force_mae:.0f} meV/Å not reached within the budget of {config.budget} "
                      f"oracle calls; everything learned is kept: `esml learn --resume --out {out} --budget N` continues", highlight=False)
        raise typer.Exit(1)
