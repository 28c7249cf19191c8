"""``esml anderson``: the localisation transition of the 3D Anderson model, learned by a network from
realisations far from it, with W_c and ν read from the finite-size scaling of the network's output."""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path

import typer

from esml.disorder.config import LEVELS, PROBES, AndersonStudy

TRANSFER = AndersonStudy()


def _text(values) -> str:
    return ",".join(f"{v:g}" for v in values)


def _both(name: str) -> str:
    """The defaults of a setting for both probes, for --help."""
    first, second = getattr(TRANSFER, name), getattr(LEVELS, name)
    show = _text if isinstance(first, tuple) else str
    return f"(default {show(first)}; with --probe levels, {show(second)})"


def anderson_command(
    probe: str = typer.Option(TRANSFER.probe, help=f"What a realisation is: {' or '.join(PROBES)} (bars of width L and "
                                                   "their Lyapunov exponents, or L³ cubes and their level spacings)."),
    out: Path = typer.Option(Path("anderson"), help="Run folder: cache/ (realisations, reused by a rerun), "
                                                    "anderson.json, anderson.png, network.pt."),
    sizes: str = typer.Option(None, help="Sizes L for the scaling. " + _both("sizes")),
    disorders: str = typer.Option(None, help="Disorders W across the transition: a list, or start:stop:step. "
                                             + _both("disorders")),
    samples: int = typer.Option(None, help="Samples per (L, W): bar segments or spacing ratios. "
                                           + _both("samples_per_point")),
    extended: str = typer.Option(None, help="Disorders the network learns as extended. " + _both("extended")),
    localised: str = typer.Option(None, help="Disorders the network learns as localised. " + _both("localised")),
    training_sizes: str = typer.Option(None, help="Sizes the network learns from. " + _both("training_sizes")),
    training_samples: int = typer.Option(None, help="Samples per training (L, W). " + _both("training_samples")),
    unseen_sizes: str = typer.Option(None, help="Sizes never seen, to test the fit on ('' for none). "
                                                + _both("unseen_sizes")),
    unseen_disorders: str = typer.Option(None, help="Disorders of the unseen sizes. " + _both("unseen_disorders")),
    unseen_samples: int = typer.Option(None, help="Samples per unseen (L, W). " + _both("unseen_samples")),
    energy: float = typer.Option(TRANSFER.energy, help="Energy (units of t) whose states are studied."),
    aspect: int = typer.Option(TRANSFER.aspect, help="transfer: a segment is this many × L slices long."),
    segments: int = typer.Option(TRANSFER.segments, help="transfer: segments per bar."),
    keep: int = typer.Option(TRANSFER.keep, help="transfer: the smallest Lyapunov exponents kept per segment."),
    inputs: int = typer.Option(TRANSFER.inputs, help="transfer: how many of them (the smallest first) the network sees."),
    half_width: float = typer.Option(TRANSFER.half_width, help="levels: the levels within ± this of --energy."),
    block: int = typer.Option(TRANSFER.block, help="levels: consecutive spacing ratios the network sees at once."),
    order: int = typer.Option(TRANSFER.order, help="Order of the scaling polynomial."),
    epochs: int = typer.Option(TRANSFER.epochs),
    bootstrap: int = typer.Option(TRANSFER.bootstrap, help="Resamplings of the realisations for the errors."),
    seed: int = typer.Option(TRANSFER.seed),
    workers: int = typer.Option(1, min=1, help="Processes computing realisations (one thread each)."),
    quiet: bool = typer.Option(False, "--quiet", help="No progress bar."),
) -> None:
    """Learn where the 3D Anderson model's band-centre states localise: W_c and ν with their errors."""
    import torch

    from esml.atomic import check_folder, write_atomically, write_text
    from esml.cli.console import console, live_progress
    from esml.disorder.config import preset
    from esml.disorder.plots import plot_study
    from esml.disorder.study import run_study
    from esml.errors import EsmlError

    if probe not in PROBES:
        raise EsmlError(f"--probe {probe!r}: choose {' or '.join(PROBES)}")
    base = preset(probe)
    given = {"sizes": _sizes(sizes, "--sizes"), "disorders": _values(disorders, "--disorders"),
             "samples_per_point": samples, "extended": _values(extended, "--extended"),
             "localised": _values(localised, "--localised"), "training_sizes": _sizes(training_sizes, "--training-sizes"),
             "training_samples": training_samples, "unseen_sizes": _sizes(unseen_sizes, "--unseen-sizes"),
             "unseen_disorders": _values(unseen_disorders, "--unseen-disorders"), "unseen_samples": unseen_samples}
    study = replace(base, **{name: value for name, value in given.items() if value is not None}, energy=energy,
                    aspect=aspect, segments=segments, keep=keep, inputs=inputs, half_width=half_width, block=block, order=order,
                    epochs=epochs, bootstrap=bootstrap, seed=seed).checked()
    check_folder(out, "the study")
    with live_progress(1, "realisations", quiet) as show:
        result, training = run_study(study, out, workers,
                                     lambda done, total: show(done / max(total, 1), f"realisations {done}/{total}"))
    write_text(out / "anderson.json", json.dumps(result, indent=1))
    write_atomically(out / "network.pt", lambda temporary: torch.save(
        {"state_dict": training.model.state_dict(), "probe": probe, "study": result["study"]}, temporary))
    plot_study(result, out / "anderson.png")
    for name, label in (("network", "network"), ("classical", result["classical_statistic"])):
        fit = result[name]
        console.print(f"{label}: W_c = {fit['w_c']:.3f} ± {fit['w_c_error']:.3f}, ν = {fit['nu']:.3f} ± "
                      f"{fit['nu_error']:.3f}, χ²/dof = {fit['chi2_per_dof']:.2f}")
    console.print(f"held-out training accuracy {result['validation_accuracy']:.3f}; results in {out}/anderson.json")


def _values(text: str | None, option: str) -> tuple[float, ...] | None:
    """A comma list (14,15,16) or a grid start:stop:step (14:18:0.5); None when not given."""
    from esml.cli.lists import numbers
    from esml.disorder.config import grid
    from esml.errors import EsmlError

    if text is None:
        return None
    if ":" not in text:
        return numbers(text, option, float, "disorders", "14.5,15,15.5 (or a grid 14.5:18.5:0.5)")
    try:
        start, stop, step = (float(part) for part in text.split(":"))
        valid = step > 0 and stop >= start
    except ValueError:
        valid = False
    if not valid:
        raise EsmlError(f"{option} {text!r}: give numbers separated by commas, or start:stop:step with a positive "
                        "step, e.g. 14.5:18.5:0.5")
    return grid(start, stop, step)


def _sizes(text: str | None, option: str) -> tuple[int, ...] | None:
    from esml.cli.lists import numbers

    return None if text is None else numbers(text, option, int, "whole lattice sizes", "8,10,12")


def structure_command(
    cell: Path = typer.Argument(..., help="A periodic cell (any format ASE reads; the last frame of a trajectory)."),
    cutoff: float = typer.Option(..., min=0.1, help="Bond length cutoff (Å), e.g. 2.85 for Si, 1.85 for C."),
    r_max: float = typer.Option(6.0, min=0.5, help="g(r) up to this distance (Å), at most the cell's width."),
    json_out: Path = typer.Option(None, "--json", help="Write the report as JSON here."),
    plot: Path = typer.Option(None, help="Write g(r) and the bond-angle distribution here (PNG)."),
) -> None:
    """The structure of a disordered (or crystalline) cell: density, coordination, g(r) peaks, bond angles, rings."""
    from dataclasses import asdict

    from esml.atomic import check_outputs, write_text
    from esml.cli.console import console
    from esml.disorder.plots import plot_structure
    from esml.disorder.structure import bond_angles, radial_distribution, structure_report
    from esml.structures import read_structures

    check_outputs((json_out, "the report", "report.json"), (plot, "the plot", "structure.png"))
    atoms = read_structures(cell)[-1]
    report = structure_report(atoms, cutoff, r_max)
    shares = ", ".join(f"{n}-fold {share:.1%}" for n, share in report.coordination.items())
    console.print(f"{atoms.get_chemical_formula()}: {report.density:.3f} g/cm³; coordination {report.mean_coordination:.3f} "
                  f"({shares}); g(r) peaks at {', '.join(f'{r:.3f}' for r in report.rdf_peaks)} Å; mean bond angle "
                  f"{report.mean_angle:.2f}°; rings {report.rings}")
    if json_out:
        write_text(json_out, json.dumps(asdict(report), indent=1))
    if plot:
        radii, rdf = radial_distribution(atoms, r_max)
        plot_structure(radii, rdf, bond_angles(atoms, cutoff), plot, atoms.get_chemical_formula())
