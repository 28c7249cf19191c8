"""``esml learn``: the main job. A potential that picks its own oracle calls until it is good enough."""

from __future__ import annotations

from pathlib import Path

import typer

from esml.errors import EsmlError


def learn_command(
    start: Path = typer.Argument(None, help="Start structure (any file ase.io reads; its first frame). Not needed with --resume."),
    oracle: str = typer.Option("gfn2-xtb", "--oracle", help="Reference method, e.g. gfn2-xtb or pbe/def2-svp (density fitting on)."),
    baseline: str = typer.Option("auto", "--baseline", help="Cheap method the model corrects (auto: gfn2-xtb unless the oracle is xTB; none: learn the whole energy)."),
    target_force_mae: float = typer.Option(0.05, "--target-force-mae", min=0.0, help="Stop when validation force MAE and predicted MAE are under this (eV/Å)."),
    temperature: str = typer.Option("300,600", "--temperature", help="Walker temperatures (K), comma separated."),
    budget: int = typer.Option(500, "--budget", min=1, help="Most oracle calls, validation frames included."),
    out: Path = typer.Option(Path("esml-learn"), "--out", "-o", help="Run folder: model.pt, report.json, report.html, data."),
    resume: bool = typer.Option(False, "--resume", help="Continue the run in --out (a larger --budget may be given)."),
    db: str = typer.Option(None, "--db", help="Store for the labeled frames and the run's dataset; default OUT/store.sqlite."),
    walkers: int = typer.Option(2, "--walkers", min=1, help="MD walkers per temperature."),
    steps: int = typer.Option(400, "--steps", min=10, help="MD steps per walker per round (0.5 fs each)."),
    batch: int = typer.Option(8, "--batch", min=1, help="Most new oracle calls per round."),
    inducing: int = typer.Option(None, "--inducing", min=10, help="Most inducing environments per element of the GP (default 1000); a large cell needs more (BENCHMARKS.md), each costs fit and MD time. May be raised on --resume."),
    validation: int = typer.Option(20, "--validation", min=2, help="Validation frames, drawn from the model's own MD; each is labeled once."),
    validation_refresh: float = typer.Option(2.0, "--validation-refresh", min=0.0, help=(
        "Draw the validation frames again from the current model's MD once the training set has grown this many "
        "times since they were drawn; the old ones join the training set. 0: never.")),
    workers: int = typer.Option(1, "--workers", "-j", min=1, help="Oracle worker processes."),
    scheduler: str = typer.Option(None, "--scheduler", help="Dask scheduler address for the oracle calls."),
    cache: Path = typer.Option(None, help="Label cache (SQLite); default $ESML_CACHE or ~/.cache/esml/labels.sqlite."),
    seed: int = typer.Option(0),
    quiet: bool = typer.Option(False, "--quiet", "-q", help="No progress bars."),
) -> None:
    """Learn a potential by active learning with GP uncertainty; writes OUT/model.pt and OUT/report.html.

    Exit status 0 when the target is reached, 1 when the budget or the rounds ran out first
    (everything learned so far is kept; --resume with a larger --budget continues).
    """
    from dataclasses import replace

    from esml.active.loop import ActiveLearner, LearnConfig
    from esml.qm.cache import LabelCache, default_cache_path

    if resume and start is not None:
        raise EsmlError("give either a start structure (new run) or --resume (continue the run in --out), not both")
    label_cache = LabelCache(cache or default_cache_path())
    if resume:
        from esml.active import run_files

        state = run_files.load_state(out)
        config = LearnConfig.from_json(state.config)
        if budget > config.budget:
            config = replace(config, budget=budget)
        if inducing:
            config = replace(config, gp=replace(config.gp, max_inducing=inducing))
        learner = ActiveLearner(out, config, label_cache, hooks(quiet))
        learner.resume()
        if config.budget > state.oracle_calls and state.status in ("budget", "max_rounds"):
            learner.state.status = "running"
        learner.state.config = config.to_json()
    else:
        structure = read_start(start)
        config = LearnConfig(
            oracle=checked_method(oracle, structure), baseline=checked_baseline(baseline, structure),
            target_force_mae=target_force_mae, temperatures=parse_temperatures(temperature),
            budget=budget, walkers_per_temperature=walkers, batch_size=batch, n_validation=validation,
            validation_refresh=checked_refresh(validation_refresh),
            workers=workers, scheduler=scheduler, seed=seed,
        )
        config = replace(config, walk=replace(config.walk, steps=steps), gp=replace(config.gp, max_inducing=inducing or config.gp.max_inducing))
        learner = ActiveLearner(out, config, label_cache, hooks(quiet))
        learner.start(structure, db)
    state = learner.run()
    finish_message(state, out, config)


def read_start(start: Path | None):
    from esml.structures import read_structures

    if start is None:
        raise EsmlError("give a start structure (e.g. start.xyz), or --resume to continue a run")
    return read_structures(start)[0]


def checked_method(text: str, structure) -> str:
    """The method string, once the engine can run it on the start structure."""
    from esml.qm import parse_method
    from esml.qm.engine import validate_method

    spec = parse_method(text)
    if spec.engine == "pyscf" and structure.pbc.any():
        raise EsmlError(f"{text}: the start structure is periodic and PySCF methods here are molecular; use gfn2-xtb for a cell")
    validate_method(spec, structure.get_chemical_symbols())
    return text


def checked_baseline(text: str, structure) -> str:
    """``auto`` and ``none`` as given (the learner resolves them against the oracle); a method string is checked."""
    return text if text in ("auto", "none") else checked_method(text, structure)


def checked_refresh(factor: float) -> float:
    if 0 < factor <= 1:
        raise EsmlError(f"--validation-refresh {factor:g} would draw a new validation set every round; "
                        "give a growth factor above 1 (e.g. 2) or 0 for never")
    return factor


def parse_temperatures(text: str) -> tuple[float, ...]:
    try:
        values = tuple(float(part) for part in text.split(",") if part.strip())
    except ValueError:
        raise EsmlError(f"--temperature {text!r}: give temperatures in K separated by commas, e.g. 300,600") from None
    if not values or any(v <= 0 for v in values):
        raise EsmlError(f"--temperature {text!r}: give one or more positive temperatures in K, e.g. 300,600")
    return values


def hooks(quiet: bool):
    from esml.active.loop import Hooks
    from esml.cli.report import console, progress_bar

    if quiet:
        return Hooks()
    return Hooks(log=lambda text: console.print(text, highlight=False),
                 progress=lambda total, text: progress_bar(total, text))


def finish_message(state, out: Path, config) -> None:
    from esml.cli.report import console

    last = state.rounds[-1].get("validation", {}) if state.rounds else {}
    mae = last.get("force_mae")
    error = "no validation yet" if mae is None else f"validation force MAE {1000 * mae:.1f} meV/Å"
    if state.saved_model:
        error += f" (saved model, cross-validated: {1000 * state.saved_model['force_mae']:.1f})"
    console.print(f"{state.status}: {state.oracle_calls} oracle calls, {error}, {state.wall_seconds:.0f} s; "
                  f"model {out / 'model.pt'}, report {out / 'report.html'}", highlight=False)
    if state.status != "converged":
        console.print(f"target {1000 * config.target_force_mae:.0f} meV/Å not reached within the budget of {config.budget} "
                      f"oracle calls; everything learned is kept: `esml learn --resume --out {out} --budget N` continues", highlight=False)
        raise typer.Exit(1)
