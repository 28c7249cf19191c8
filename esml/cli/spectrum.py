"""``esml spectrum ir | anharmonic | md``: infrared spectra and anharmonic fundamentals of a
molecule under a trained model or a reference method."""

from __future__ import annotations

import json
from dataclasses import asdict
from pathlib import Path

import numpy as np
import typer

from esml.simulate.settings import DEFAULT_DISPLACEMENT
from esml.spectra.settings import DynamicsSettings, VPT2Settings

app = typer.Typer(help="Infrared spectra (harmonic or from MD) and VPT2 anharmonic fundamentals.", no_args_is_help=True)
MODEL_HELP = "Model file from `esml train` (with --dipole-weight for intensities), or a reference method (b3lyp/def2-tzvp, gfn2-xtb, ...)."
START_HELP = "The molecule (last frame of the file); relaxed first unless --no-optimize."
VPT2 = VPT2Settings()
DYNAMICS = DynamicsSettings()
def prepared(model: str, start: Path, optimize: bool, outputs: list[tuple[Path | None, str, str]]):
    """Outputs checked, the calculator built and the molecule relaxed, in that order: a bad output
    path is refused before any computation."""
    from esml.atomic import check_outputs
    from esml.cli.simulate import calculator_for, check_calculator, read_start
    from esml.errors import EsmlError
    from esml.simulate.relax import optimise

    check_outputs(*outputs)
    atoms = read_start(start)
    if atoms.pbc.any():
        raise EsmlError(f"{start}: a periodic structure; esml spectrum is for molecules")
    calc = calculator_for(model, precise=True)
    check_calculator(atoms, calc)
    return (optimise(atoms, calc, fmax=1e-4) if optimize else atoms), calc


def modes_table(title: str, harmonic: np.ndarray, fundamentals: np.ndarray | None, intensities: np.ndarray | None,
                experiment: np.ndarray | None, fundamental_label: str = "fundamental cm⁻¹"):
    from rich.table import Table

    table = Table(title=title)
    columns = ["mode", "harmonic cm⁻¹"] + ([fundamental_label] if fundamentals is not None else []) + \
        (["intensity km/mol"] if intensities is not None else []) + (["experiment cm⁻¹", "error cm⁻¹"] if experiment is not None else [])
    for column in columns:
        table.add_column(column, justify="right")
    compared = fundamentals if fundamentals is not None else harmonic
    for k in range(len(harmonic)):
        row = [str(k + 1), f"{harmonic[k]:.1f}"]
        if fundamentals is not None:
            row.append(f"{fundamentals[k]:.1f}")
        if intensities is not None:
            row.append(f"{intensities[k]:.1f}")
        if experiment is not None:
            known = not np.isnan(experiment[k])
            row += [f"{experiment[k]:.1f}" if known else "-", f"{compared[k] - experiment[k]:+.1f}" if known else "-"]
        table.add_row(*row)
    return table


def write_report(json_out: Path | None, report: dict) -> None:
    from esml.atomic import write_text

    if json_out:
        write_text(json_out, json.dumps(report, indent=2))


def summary_line(comparison: dict | None) -> str:
    if comparison is None:
        return ""
    return (f"; against experiment: MAE {comparison['mae_cm1']:.1f} cm⁻¹ over {comparison['n_fundamentals']} bands, "
            f"{100 * comparison['fraction_within_20_cm']:.0f} % within 20 cm⁻¹, {100 * comparison['fraction_within_10_cm']:.0f} % within 10")


@app.command("ir")
def ir_command(
    model: str = typer.Argument(..., help=MODEL_HELP),
    start: Path = typer.Argument(..., help=START_HELP),
    optimize: bool = typer.Option(True, "--optimize/--no-optimize", help="Relax to fmax 1e-4 eV/Å first."),
    displacement: float = typer.Option(DEFAULT_DISPLACEMENT, help="Finite-difference step (Å)."),
    fwhm: float = typer.Option(10.0, min=0.1, help="Full width of each Lorentzian band (cm⁻¹)."),
    experiment: Path = typer.Option(None, "--experiment", help='Measured fundamentals: {"fundamentals_cm1": [...]} in ascending mode order, null where unknown.'),
    png: Path = typer.Option(Path("ir.png"), "--png", help="The spectrum: bands broadened and as sticks, experiment dashed."),
    json_out: Path = typer.Option(None, "--json", help="Modes, intensities and errors against experiment as JSON."),
) -> None:
    """Harmonic IR spectrum: frequencies and intensities (km/mol) from the Hessian and dipole derivatives."""
    from esml.cli.console import console
    from esml.spectra.infrared import broadened, harmonic_infrared
    from esml.spectra.report import deviations, plot_spectrum, read_experiment

    atoms, calc = prepared(model, start, optimize, [(png, "the plot", "ir.png"), (json_out, "the spectrum", "ir.json")])
    modes, sticks = harmonic_infrared(atoms, calc, displacement)
    measured = None if experiment is None else read_experiment(experiment, len(modes.wavenumbers))
    comparison = None if measured is None else deviations(modes.wavenumbers, measured)
    grid = np.linspace(0, max(4000.0, 1.1 * modes.wavenumbers.max()), 4000)
    plot_spectrum(png, f"harmonic IR, {model}", grid, broadened(sticks, grid, fwhm), "absorbance (km/mol per cm⁻¹)",
                  (sticks.wavenumbers, sticks.intensities), measured)
    console.print(modes_table("Harmonic modes", modes.wavenumbers, None, sticks.intensities, measured))
    write_report(json_out, {"model": model, "kind": "harmonic", "wavenumbers_cm1": modes.wavenumbers.tolist(),
                            "intensities_km_mol": sticks.intensities.tolist(), "fwhm_cm1": fwhm,
                            "experiment_cm1": None if measured is None else [None if np.isnan(v) else v for v in measured],
                            "against_experiment": comparison})
    console.print(f"wrote {png}{summary_line(comparison)}", highlight=False)


@app.command("anharmonic")
def anharmonic_command(
    model: str = typer.Argument(..., help=MODEL_HELP),
    start: Path = typer.Argument(..., help=START_HELP),
    optimize: bool = typer.Option(True, "--optimize/--no-optimize", help="Relax to fmax 1e-4 eV/Å first."),
    step: float = typer.Option(VPT2.step, help="Displacement along each normal mode (dimensionless q) for the cubic and quartic constants."),
    fermi_window: float = typer.Option(VPT2.fermi_window, help="Largest gap (cm⁻¹) between a fundamental and an overtone or combination treated as a Fermi resonance."),
    martin_threshold: float = typer.Option(VPT2.martin_threshold, help="Martin's W⁴/Δ³ (cm⁻¹) above which a resonance is deperturbed and diagonalised."),
    fwhm: float = typer.Option(10.0, min=0.1, help="Full width of each Lorentzian band (cm⁻¹)."),
    experiment: Path = typer.Option(None, "--experiment", help='Measured fundamentals: {"fundamentals_cm1": [...]} in ascending mode order, null where unknown.'),
    png: Path = typer.Option(Path("anharmonic.png"), "--png", help="The fundamentals with harmonic intensities, broadened and as sticks."),
    json_out: Path = typer.Option(None, "--json", help="Harmonic and anharmonic wavenumbers, χ, resonances, errors as JSON."),
    quiet: bool = typer.Option(False, "--quiet", "-q"),
) -> None:
    """Anharmonic fundamentals by VPT2 (Fermi resonances deperturbed and diagonalised) from the
    cubic and semi-diagonal quartic force field of the model or method."""
    from dataclasses import replace

    from esml.cli.console import console, live_progress
    from esml.simulate.vibrations import gives_dipole, harmonic_modes
    from esml.spectra.infrared import StickSpectrum, broadened
    from esml.spectra.report import deviations, plot_spectrum, read_experiment
    from esml.spectra.vpt2 import quartic_force_field, vpt2

    settings = replace(VPT2, step=step, fermi_window=fermi_window, martin_threshold=martin_threshold).checked()
    atoms, calc = prepared(model, start, optimize, [(png, "the plot", "anharmonic.png"), (json_out, "the fundamentals", "vpt2.json")])
    with_dipole = gives_dipole(atoms, calc)
    modes, derivatives = harmonic_modes(atoms, calc, settings.displacement, dipole=with_dipole)
    measured = None if experiment is None else read_experiment(experiment, len(modes.wavenumbers))
    with live_progress(2 * len(modes.wavenumbers), "cubic and quartic constants", quiet) as show:
        field = quartic_force_field(modes, derivatives.hessian, calc, settings, lambda done, total: show(done, "Hessians along the modes"))
    result = vpt2(field, settings)
    intensities = modes.intensities(derivatives.dipole) if with_dipole else np.ones_like(result.fundamentals)
    comparison = None if measured is None else deviations(result.fundamentals, measured)
    grid = np.linspace(0, max(4000.0, 1.1 * result.harmonic.max()), 4000)
    sticks = StickSpectrum(result.fundamentals, intensities)
    label = "absorbance (km/mol per cm⁻¹), harmonic intensities" if with_dipole else "bands (no dipole: unit heights)"
    plot_spectrum(png, f"VPT2 fundamentals, {model}", grid, broadened(sticks, grid, fwhm), label,
                  (sticks.wavenumbers, sticks.intensities), measured)
    console.print(modes_table("VPT2 fundamentals", result.harmonic, result.fundamentals,
                              intensities if with_dipole else None, measured))
    for r in result.resonances:
        partners = " + ".join(f"ν{p + 1}" for p in r.partners)
        console.print(f"Fermi resonance: ν{r.mode + 1} with {partners} (gap {r.gap:+.1f} cm⁻¹, coupling {r.coupling:.1f} cm⁻¹)", highlight=False)
    write_report(json_out, {
        "model": model, "kind": "vpt2", "harmonic_cm1": result.harmonic.tolist(), "fundamentals_cm1": result.fundamentals.tolist(),
        "deperturbed_cm1": result.deperturbed.tolist(), "chi_cm1": result.chi.tolist(),
        "intensities_km_mol": intensities.tolist() if with_dipole else None,
        "resonances": [{"mode": r.mode, "partners": list(r.partners), "gap_cm1": r.gap, "coupling_cm1": r.coupling} for r in result.resonances],
        "experiment_cm1": None if measured is None else [None if np.isnan(v) else v for v in measured],
        "against_experiment": comparison, "settings": {"step": step, "fermi_window": fermi_window, "martin_threshold": martin_threshold}})
    console.print(f"wrote {png}{summary_line(comparison)}", highlight=False)


@app.command("md")
def md_command(
    model: str = typer.Argument(..., help="Model file from `esml train --dipole-weight ...` (or a reference method, slowly)."),
    start: Path = typer.Argument(..., help=START_HELP),
    optimize: bool = typer.Option(True, "--optimize/--no-optimize", help="Relax to fmax 1e-4 eV/Å first."),
    temperature: float = typer.Option(DYNAMICS.temperature_K, help="Temperature of the NVT equilibration (K)."),
    timestep: float = typer.Option(DYNAMICS.timestep_fs, help="fs"),
    equilibration: float = typer.Option(DYNAMICS.equilibration_fs, help="NVT before the first NVE run (fs)."),
    nve: float = typer.Option(DYNAMICS.nve_fs, help="Length of each NVE run (fs)."),
    trajectories: int = typer.Option(DYNAMICS.trajectories, min=1, help="NVE runs, each from a further stretch of NVT."),
    seed: int = typer.Option(DYNAMICS.seed),
    experiment: Path = typer.Option(None, "--experiment", help='Measured fundamentals: {"fundamentals_cm1": [...]} in ascending mode order, null where unknown.'),
    png: Path = typer.Option(Path("ir-md.png"), "--png", help="The spectrum, experiment dashed."),
    json_out: Path = typer.Option(None, "--json", help="The spectrum and band centres as JSON."),
    quiet: bool = typer.Option(False, "--quiet", "-q"),
) -> None:
    """IR spectrum from the dipole autocorrelation of NVE trajectories (quantum-corrected); band
    centres are read near the harmonic frequencies."""
    from esml.cli.console import console, live_progress
    from esml.errors import EsmlError
    from esml.simulate.vibrations import gives_dipole, harmonic_modes
    from esml.spectra.infrared import band_centres, dipole_trajectories, dynamics_spectrum
    from esml.spectra.report import deviations, plot_spectrum, read_experiment

    settings = DynamicsSettings(temperature, timestep, equilibration, nve, trajectories, seed=seed).checked()
    atoms, calc = prepared(model, start, optimize, [(png, "the plot", "ir-md.png"), (json_out, "the spectrum", "ir-md.json")])
    if not gives_dipole(atoms, calc):
        raise EsmlError(f"{model} predicts no dipole; train the model with --dipole-weight on frames labeled with dipoles")
    modes, _ = harmonic_modes(atoms, calc)
    if modes.wavenumbers.min() <= 0:  # the bands are read near the harmonic modes of a minimum
        raise EsmlError(f"the structure has an imaginary mode ({modes.wavenumbers.min():.0f} cm⁻¹) under {model}: it is not a "
                        "minimum; drop --no-optimize, or train the model further if relaxing fails")
    measured = None if experiment is None else read_experiment(experiment, len(modes.wavenumbers))
    with live_progress(trajectories, "NVE trajectories", quiet) as show:
        dipoles = dipole_trajectories(atoms, calc, settings, lambda done, total: show(done, "NVE trajectories"))
    wavenumbers, spectrum = dynamics_spectrum(dipoles, timestep, temperature)
    inside = wavenumbers <= max(4000.0, 1.1 * modes.wavenumbers.max())
    centres = band_centres(wavenumbers, spectrum, modes.wavenumbers)
    comparison = None if measured is None else deviations(centres, measured)
    plot_spectrum(png, f"IR from {trajectories} × {nve:g} fs of NVE at {temperature:g} K, {model}", wavenumbers[inside],
                  spectrum[inside], "absorbance (peak 1)", None, measured)
    console.print(modes_table("Band centres from MD (near each harmonic mode)", modes.wavenumbers, centres, None, measured, "band centre cm⁻¹"))
    write_report(json_out, {"model": model, "kind": "md", "harmonic_cm1": modes.wavenumbers.tolist(), "band_centres_cm1": centres.tolist(),
                            "wavenumbers_cm1": wavenumbers[inside].tolist(), "absorbance": spectrum[inside].tolist(),
                            "experiment_cm1": None if measured is None else [None if np.isnan(v) else v for v in measured],
                            "against_experiment": comparison, "settings": asdict(settings)})
    console.print(f"wrote {png}{summary_line(comparison)}", highlight=False)
