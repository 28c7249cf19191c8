"""``esml md``, ``esml optimize``, ``esml vibrate``: simulations with a trained model or a reference method."""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path

import typer

from esml.simulate.settings import DEFAULT_DISPLACEMENT, MDSettings

MD = MDSettings()
MODEL_HELP = "Model file from `esml train`, or a reference method (gfn2-xtb, pbe/def2-svp, ...)."


# Nested finite differences of a reference method need its gradients to ~1e-7 Ha/Bohr, far past
# esml's labelling default (1e-9 Ha on the energy).
PRECISE_SCF_TOLERANCE = 1e-11


def calculator_for(model: str, precise: bool = False):
    """An ASE calculator for a model file, or for a reference method string. ``precise``, for finite
    differences: a model in float64 (differences of float32 forces are noise), or a reference
    converged tightly whose results are cached, so that an interrupted scan resumes."""
    from esml.errors import EsmlError

    if Path(model).exists():
        import torch

        from esml.potentials import load_calculator

        return load_calculator(model, dtype=torch.float64) if precise else load_calculator(model)
    if model.endswith(".pt"):
        raise EsmlError(f"{model}: no such model file; train one with `esml train`")
    from esml.qm.engine import ReferenceCalculator, reference_calculator

    if not precise:
        return reference_calculator(model)
    from esml.methods import parse_reference
    from esml.qm.cache import LabelCache, default_cache_path

    spec = parse_reference(model)
    if spec.engine == "pyscf":
        spec = replace(spec, scf_tolerance=min(spec.scf_tolerance, PRECISE_SCF_TOLERANCE))
    return ReferenceCalculator(spec, cache=LabelCache(default_cache_path()))


def check_calculator(atoms, calc) -> None:
    """Evaluate once before any progress is drawn, so a structure the model cannot handle fails in one line."""
    probe = atoms.copy()
    probe.calc = calc
    probe.get_potential_energy()


def read_start(path: Path):
    from esml.structures import read_structures

    return read_structures(path)[-1]


def md_command(
    model: str = typer.Argument(..., help=MODEL_HELP),
    start: Path = typer.Argument(..., help="Start structure (the last frame of the file is used)."),
    ensemble: str = typer.Option(MD.ensemble, help="nvt or nve."),
    thermostat: str = typer.Option(MD.thermostat, help="langevin, bussi or nose-hoover (NVT)."),
    temperature: float = typer.Option(MD.temperature_K, help="Temperature (K); NVE starts from it."),
    steps: int = typer.Option(MD.steps, min=1),
    timestep: float = typer.Option(MD.timestep_fs, help="fs"),
    interval: int = typer.Option(MD.interval, min=1, help="Steps between saved frames."),
    out: Path = typer.Option(Path("md.xyz"), "--out", "-o", help="Trajectory: .xyz (extxyz) or .traj."),
    seed: int = typer.Option(MD.seed),
    json_out: Path = typer.Option(None, "--json", help="Summary as JSON."),
    max_force_sigma: float = typer.Option(None, "--max-force-sigma", min=0.0, help=(
        "Stop where the model's force σ (mean over components, eV/Å; calibrated when the model comes from "
        "esml learn) passes this. Needs a model with an uncertainty: a GP from esml learn or an ensemble.")),
    quiet: bool = typer.Option(False, "--quiet", "-q"),
) -> None:
    """Molecular dynamics; prints temperature and energy as it goes and a stability summary at the end.
    With a model that has an uncertainty, every saved frame also records its force σ."""
    from esml.atomic import check_writable, results_format, write_text
    from esml.calculator import force_uncertainty
    from esml.cli.console import console, live_progress
    from esml.errors import EsmlError
    from esml.simulate.dynamics import run_md

    settings = replace(MD, ensemble=ensemble, thermostat=thermostat, temperature_K=temperature, timestep_fs=timestep,
                       steps=steps, interval=interval, seed=seed).checked()
    check_writable(out, "the trajectory", "md.xyz")
    results_format(out)
    if json_out:
        check_writable(json_out, "the summary", "md.json")
    atoms = read_start(start)
    calc = calculator_for(model)
    check_calculator(atoms, calc)
    sigma = force_uncertainty(calc, atoms)  # calibrated when the model file holds esml learn's factor
    if max_force_sigma is not None and sigma is None:
        raise EsmlError(f"{model} has no uncertainty, so --max-force-sigma cannot be watched; "
                        "use a model from esml learn or an ensemble (esml train --ensemble N), or leave the option out")

    def line(frame) -> str:
        watched = "" if frame.force_sigma is None else f" | force σ {1000 * frame.force_sigma:.0f} meV/Å"
        return f"T {frame.temperature_K:6.0f} K | Epot {frame.potential_energy:.3f} eV | Etot {frame.total_energy:.3f} eV{watched}"

    with live_progress(steps, "MD", quiet) as show:
        _, summary = run_md(atoms, calc, settings, out, lambda frame: show(frame.step, line(frame)), sigma, max_force_sigma)
    report = {"frames": summary.frames, "time_ps": summary.frames * interval * timestep / 1000, "mean_temperature_K": summary.mean_temperature_K,
              # a thermostat exchanges energy with the system: the drift measures something only in NVE
              "drift_meV_per_atom_per_ps": summary.drift_meV_per_atom_per_ps if ensemble == "nve" else None,
              "bonds_changed": summary.bonds_changed,
              "first_bond_change_fs": summary.first_bond_change_fs, "max_force_sigma": summary.max_force_sigma,
              "stopped_uncertain_fs": summary.stopped_uncertain_fs, "collapsed_after_fs": summary.collapsed_after_fs,
              "collapse": summary.collapse, "trajectory": str(out)}
    if json_out:
        write_text(json_out, json.dumps(report, indent=2))
    if not quiet:
        drift = f"; total-energy drift {summary.drift_meV_per_atom_per_ps:.3f} meV/atom/ps" if ensemble == "nve" else ""
        watched = "" if summary.max_force_sigma is None else f"; largest force σ {1000 * summary.max_force_sigma:.0f} meV/Å"
        console.print(f"{summary.frames} frames in {out}; mean T {summary.mean_temperature_K:.0f} K{drift}; "
                      f"bonds changed: {summary.bonds_changed}{watched}", highlight=False)
    if summary.collapse is not None:
        console.print(f"esml: error: MD stopped after {summary.collapsed_after_fs:.0f} fs: the model let {summary.collapse}; "
                      f"it is not reliable there: train it longer or on more data (the frames so far are in {out})",
                      highlight=False, soft_wrap=True)
        raise typer.Exit(1)
    if summary.stopped_uncertain_fs is not None:
        console.print(f"stopped at {summary.stopped_uncertain_fs:.0f} fs: the model's force σ passed "
                      f"{1000 * max_force_sigma:.0f} meV/Å; label frames from {out} and retrain (or esml learn --resume)",
                      highlight=False)
        raise typer.Exit(1)



def optimize_command(
    model: str = typer.Argument(..., help=MODEL_HELP),
    start: Path = typer.Argument(..., help="Start structure (last frame)."),
    fmax: float = typer.Option(0.005, min=1e-6, help="Stop when every force is under this (eV/Å)."),
    steps: int = typer.Option(1000, min=1, help="Most optimiser steps."),
    out: Path = typer.Option(Path("optimized.xyz"), "--out", "-o"),
) -> None:
    """Relax a structure with BFGS."""
    from esml.atomic import check_writable, results_format, write_frames
    from esml.cli.console import console
    from esml.simulate.relax import optimise

    check_writable(out, "the relaxed structure", "optimized.xyz")
    output_format = results_format(out)
    relaxed = optimise(read_start(start), calculator_for(model), fmax, steps)
    write_frames(out, [relaxed], output_format)
    console.print(f"energy {relaxed.get_potential_energy():.6f} eV; wrote {out}", highlight=False)


def vibrate_command(
    model: str = typer.Argument(..., help=MODEL_HELP),
    start: Path = typer.Argument(..., help="Structure (last frame); relaxed first unless --no-optimize."),
    optimize: bool = typer.Option(True, "--optimize/--no-optimize", help="Relax to fmax 0.001 eV/Å before the finite differences."),
    displacement: float = typer.Option(DEFAULT_DISPLACEMENT, help="Finite-difference step (Å)."),
    json_out: Path = typer.Option(None, "--json", help="Frequencies (cm⁻¹) and zero-point energy (eV) as JSON."),
) -> None:
    """Harmonic vibrational frequencies (cm⁻¹; imaginary modes negative)."""
    from esml.atomic import check_writable, write_text
    from esml.cli.console import console
    from esml.simulate.relax import optimise
    from esml.simulate.vibrations import harmonic_modes

    if json_out:
        check_writable(json_out, "the frequencies", "freq.json")
    calc = calculator_for(model)
    atoms = read_start(start)
    if optimize:
        atoms = optimise(atoms, calc, fmax=0.001)
    modes, _ = harmonic_modes(atoms, calc, displacement)
    console.print("frequencies (cm⁻¹): " + " ".join(f"{w:.1f}" for w in modes.wavenumbers), highlight=False)
    console.print(f"zero-point energy {modes.zero_point_energy:.4f} eV", highlight=False)
    if json_out:
        write_text(json_out, json.dumps({"model": model, "frequencies_cm1": modes.wavenumbers.tolist(),
                                         "zero_point_energy_eV": modes.zero_point_energy}, indent=2))
