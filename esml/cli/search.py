"""``esml search``: the lowest-energy structure of a cluster by basin hopping or a learned move policy;
``esml search-policy``: train such a policy on Lennard-Jones clusters."""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path

import typer

from esml.search.config import BASIN_HOPPING_STEP, BASIN_HOPPING_TEMPERATURE, PolicyTraining, SearchConfig

DEFAULTS = SearchConfig()
TRAINING = PolicyTraining()


def search_command(
    method: str = typer.Argument(..., help="lj or morse (reduced units: ε = 1 eV, σ = r₀ = 1 Å), a model file from "
                                           "`esml train`, or a reference method (gfn2-xtb, pbe/def2-svp, ...)."),
    start: Path = typer.Argument(None, help="The cluster to start from (xyz, Å); or --size N for lj and morse."),
    size: int = typer.Option(None, min=2, help="Atoms of a random lj or morse cluster to start from, instead of a file."),
    policy: str = typer.Option("default", help="default (the learned policy shipped with esml), basin-hopping, "
                                               "or a policy file from `esml search-policy`."),
    step: float = typer.Option(BASIN_HOPPING_STEP, min=0.0, help="Basin hopping's step, × the spacing of neighbours."),
    temperature: float = typer.Option(BASIN_HOPPING_TEMPERATURE, min=0.0,
                                      help="Basin hopping's kT, × the binding energy per atom or molecule."),
    evaluations: int = typer.Option(DEFAULTS.evaluations, help="Cap on energy-and-forces calls, relaxations included."),
    target: float = typer.Option(None, help="Stop once the best energy (eV) is within --tolerance of this."),
    tolerance: float = typer.Option(DEFAULTS.tolerance, help="eV: minima closer than this in energy are one; the target counts within it."),
    fmax: float = typer.Option(DEFAULTS.fmax, help="Relaxations end when no force component exceeds this (eV/Å)."),
    seed: int = typer.Option(DEFAULTS.seed),
    out: Path = typer.Option(Path("search"), help="Run folder: state.json, best.xyz, minima.xyz, search.json, search.png."),
    resume: bool = typer.Option(False, "--resume", help="Go on with the search in --out."),
    quiet: bool = typer.Option(False, "--quiet", help="No progress bar."),
) -> None:
    """Global optimisation of a cluster: hop from minimum to minimum, every evaluation counted."""
    from esml.atomic import check_folder, write_text
    from esml.cli.console import console, live_progress
    from esml.errors import EsmlError
    from esml.search.plots import plot_progress
    from esml.search.run import search

    config = replace(DEFAULTS, evaluations=evaluations, target=target, tolerance=tolerance, fmax=fmax, seed=seed).checked()
    chooser = _policy(policy, step, temperature)
    atoms, calculator = _system(method, start, size, seed)
    check_folder(out, "the search")
    if (out / "state.json").exists() and not resume:
        raise EsmlError(f"{out} already holds a search; add --resume to go on with it, or give another --out")
    if resume and not (out / "state.json").exists():
        raise EsmlError(f"--resume: {out} holds no search (no state.json); leave --resume out to start one")
    with live_progress(config.evaluations, "search", quiet) as show:
        result = search(atoms, calculator, chooser, config, out,
                        lambda state: show(min(state.evaluations, config.evaluations),
                                           f"hop {state.hops}, best {state.best.energy:.6f} eV"))
    summary = {"method": method, "formula": atoms.get_chemical_formula(), "policy": chooser.description,
               "best_energy": result.best_energy, "evaluations": result.evaluations,
               "evaluations_to_target": result.evaluations_to_target, "target": target, "hops": result.hops,
               "failed_relaxations": result.failed, "minima": result.minima, "moves": result.moves,
               "history": result.history}
    write_text(out / "search.json", json.dumps(summary, indent=1))
    plot_progress({chooser.description: result.history + [(result.evaluations, result.best_energy)]},
                  out / "search.png", f"{atoms.get_chemical_formula()}, {method}", target)
    reached = "" if target is None else (f"; target reached after {result.evaluations_to_target} evaluations"
                                         if result.evaluations_to_target else "; target not reached")
    console.print(f"best energy {result.best_energy:.6f} eV after {result.hops} hops and {result.evaluations} evaluations"
                  f"{reached}; {len(result.minima)} distinct minima kept in {out}/minima.xyz")


def _policy(name: str, step: float, temperature: float):
    from esml.search.policy import SHIPPED, BasinHopping, load_policy

    if name == "basin-hopping":
        return BasinHopping(step, temperature)
    return load_policy(SHIPPED if name == "default" else name)


def _system(method: str, start: Path | None, size: int | None, seed: int):
    from esml.cli.simulate import calculator_for, read_start
    from esml.errors import EsmlError
    from esml.search.pair import PAIR_POTENTIALS as pair_potentials
    from esml.search.training import random_cluster

    if (start is None) == (size is None):
        raise EsmlError("give either a start structure or --size N (one of the two)")
    if size is not None and method not in pair_potentials:
        raise EsmlError(f"--size makes a random {' or '.join(pair_potentials)} cluster; for {method} give a start structure")
    atoms = random_cluster(size, seed) if size is not None else read_start(start)
    calculator = pair_potentials[method]() if method in pair_potentials else calculator_for(method)
    return atoms, calculator


def search_policy_command(
    sizes: str = typer.Option(",".join(map(str, TRAINING.sizes)), help="Lennard-Jones cluster sizes to train on."),
    generations: int = typer.Option(TRAINING.generations),
    pairs: int = typer.Option(TRAINING.pairs, help="Antithetic pairs of weight perturbations per generation."),
    episodes: int = typer.Option(TRAINING.episodes, help="Searches per size for each perturbation."),
    evaluations: int = typer.Option(TRAINING.evaluations, help="Cap of one training search."),
    seed: int = typer.Option(TRAINING.seed),
    workers: int = typer.Option(1, min=1, help="Processes running searches side by side."),
    out: Path = typer.Option(Path("policy.json"), help="The policy file, for esml search --policy."),
) -> None:
    """Train a move policy by evolution strategies on Lennard-Jones clusters of the given sizes."""
    from esml.atomic import check_outputs
    from esml.cli.console import console
    from esml.cli.lists import numbers
    from esml.search.training import reference_targets, train_policy

    size_list = numbers(sizes, "--sizes", int, "whole numbers", "26,30,34")
    training = replace(TRAINING, sizes=size_list, generations=generations, pairs=pairs, episodes=episodes,
                       evaluations=evaluations, seed=seed).checked()
    check_outputs((out, "the policy", "policy.json"))
    targets = reference_targets(training, workers)
    console.print("targets: " + ", ".join(f"LJ{n} {e:.6f}" for n, e in targets.items()))

    def report(generation, mean_score, policy):
        console.print(f"generation {generation + 1}/{training.generations}: mean log evaluations {mean_score:.3f}")

    train_policy(training, targets, workers, report).save(out)
    console.print(f"policy written to {out}")
