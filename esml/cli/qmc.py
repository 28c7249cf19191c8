"""``esml vmc``: the ground-state energy of an atom or a small molecule by variational Monte Carlo
with a neural-network wavefunction (``esml.qmc``). Hartree inside; eV shown beside it."""

from __future__ import annotations

import json
import time
from dataclasses import replace
from pathlib import Path

import typer

from esml.qmc.config import DEFAULT_RATES, VMCConfig

DEFAULTS = VMCConfig()


def vmc_command(
    structure: Path = typer.Argument(None, exists=True, dir_okay=False, help="A molecule (xyz, Å); or use --atom."),
    atom: str = typer.Option(None, help="A free atom instead of a structure file, e.g. Be."),
    charge: int = typer.Option(0, help="Total charge (e)."),
    spin: int = typer.Option(None, help="N_up - N_down (2S); default: the free atom's, else 0 or 1."),
    steps: int = typer.Option(DEFAULTS.steps, min=0, help="Optimisation steps (in all, across --resume)."),
    minutes: float = typer.Option(None, min=0.0, help="Wall time of the whole run, evaluation included: optimising stops in time for it."),
    batch: int = typer.Option(DEFAULTS.batch, min=2, help="Walkers."),
    optimizer: str = typer.Option(DEFAULTS.optimizer.name, help="sr (natural gradient) or adam."),
    learning_rate: float = typer.Option(None, min=0.0, help=f"Default {DEFAULT_RATES['sr']:g} for sr, {DEFAULT_RATES['adam']:g} for adam."),
    baseline: str = typer.Option(DEFAULTS.baseline, help="casscf (valence active space, several determinants) or hf."),
    determinants: int = typer.Option(DEFAULTS.ansatz.determinants, min=1, help="Copies of a single-determinant baseline, each with its own "
                                                    "backflow (a CASSCF baseline brings its own determinants)."),
    basis: str = typer.Option(DEFAULTS.basis, help="Basis of the baseline."),
    evaluation_steps: int = typer.Option(DEFAULTS.evaluation_steps, min=2, help="Sampling steps with frozen parameters for the energy."),
    seed: int = typer.Option(DEFAULTS.seed),
    checkpoint: Path = typer.Option(Path("vmc.pt"), help="Saved every 100 steps; --resume continues from it."),
    resume: bool = typer.Option(False, "--resume", help="Continue the run in --checkpoint."),
    json_out: Path = typer.Option(None, "--json", help="Write energy_ha, error_ha, variance, steps, seconds here."),
    plot: Path = typer.Option(None, help="Convergence plot (PNG)."),
    quiet: bool = typer.Option(False, "--quiet", help="No progress bar."),
) -> None:
    """Optimise a PauliNet-style wavefunction (CASSCF or Hartree–Fock baseline, neural Jastrow and backflow,
    exact cusps)."""
    from esml.cli.console import console, live_progress
    from esml.errors import EsmlError
    from esml.qmc import system as systems
    from esml.qmc.plots import plot_convergence
    from esml.qmc.vmc import evaluate, optimise, save, start, summary
    from esml.qmc.vmc import resume as resume_run
    from esml.structures import read_structures

    if (structure is None) == (atom is None):
        raise EsmlError("give either a structure file or --atom SYMBOL (one of the two)")
    if atom:
        system = systems.atom(atom, charge, spin)
    else:
        system = systems.from_atoms(read_structures(structure)[0], charge, spin)
    rate = learning_rate if learning_rate is not None else DEFAULT_RATES.get(optimizer, 0.0)
    config = replace(DEFAULTS, steps=steps, batch=batch, evaluation_steps=evaluation_steps, baseline=baseline, basis=basis,
                     seed=seed, max_seconds=minutes * 60 if minutes is not None else None,
                     ansatz=replace(DEFAULTS.ansatz, determinants=determinants),
                     optimizer=replace(DEFAULTS.optimizer, name=optimizer, learning_rate=rate)).checked()
    run = resume_run(checkpoint, system, config) if resume else start(system, config)
    console.print(f"{system.describe()}: {run.reference.method} baseline in {basis} ({run.reference.energy:.6f} Ha), "
                  f"{batch} walkers", highlight=False)
    with live_progress(steps, "optimising", quiet) as show:
        def report(current) -> None:
            recent = current.history[-20:]
            energy = sum(r["energy"] for r in recent) / len(recent)
            show(current.step, f"optimising  E ≈ {energy:.5f} Ha")
        optimise(run, checkpoint, on_step=report)
    save(run, checkpoint)
    left = None if config.max_seconds is None else max(0.0, config.max_seconds - run.seconds)
    started = time.perf_counter()
    with live_progress(config.evaluation_steps, "evaluating", quiet) as show:
        evaluation = evaluate(run, on_step=lambda step: show(step, "evaluating"), seconds=left)
    result = summary(run, evaluation, time.perf_counter() - started)
    for event in run.events:
        console.print(f"step {event['step']}: {event['event']}; {event['action']}", highlight=False)
    console.print(f"E = {result['energy_ha']:.6f} ± {result['error_ha']:.6f} Ha "
                  f"({result['energy_ev']:.4f} ± {result['error_ev']:.4f} eV), "
                  f"variance {result['variance']:.4g} Ha², "
                  f"Hartree–Fock {run.reference.hartree_fock_energy:.6f} Ha; {run.step} steps, {result['seconds']:.0f} s",
                  highlight=False)
    if json_out:
        from esml.atomic import write_text

        write_text(json_out, json.dumps(result, indent=1) + "\n")
    if plot and run.history:
        plot_convergence(run.history, run.reference, result, system.describe(), plot)
