"""``esml demo``: the main job end to end on embedded defaults (ethanol)."""

from __future__ import annotations

from pathlib import Path

import typer


def demo_command(
    frames: int = typer.Option(16, min=1, help="Frames to sample from the xTB trajectory."),
    method: str = typer.Option("pbe/def2-svp", "--method", "-m", help="Reference method to label the frames with (density fitting on)."),
    temperature: float = typer.Option(500.0, help="MD temperature (K)."),
    workers: int = typer.Option(2, "--workers", "-j", min=1, help="Worker processes for labeling."),
    output: Path = typer.Option(Path("esml-demo"), "--output", "-o", help="Folder for the trajectory and labeled frames."),
    cache: Path = typer.Option(None, help="Label cache (SQLite); default $ESML_CACHE or ~/.cache/esml/labels.sqlite."),
    quiet: bool = typer.Option(False, "--quiet", "-q", help="No progress bars."),
) -> None:
    """Sample ethanol by GFN2-xTB Langevin MD, label the frames with xTB and DFT, compare.

    Labels go through the cache: a second run computes nothing and takes about a second.
    """
    import time

    import ase.io
    from ase.build import molecule

    from esml.cli.label import label_with_progress, write_frames
    from esml.cli.report import console, labeling_table, print_failures, progress_bar
    from esml.qm import calculator, parse_method
    from esml.qm.cache import LabelCache, default_cache_path
    from esml.simulate.md import sample_langevin

    output.mkdir(parents=True, exist_ok=True)
    label_cache = LabelCache(cache or default_cache_path())
    interval, timestep_fs = 20, 0.5
    start = time.perf_counter()
    with progress_bar(frames * interval, f"xTB MD of ethanol at {temperature:.0f} K", quiet) as advance:
        trajectory = sample_langevin(
            molecule("CH3CH2OH"), calculator("gfn2-xtb"), temperature, frames * interval, interval,
            timestep_fs=timestep_fs, on_step=advance,
        )
    ase.io.write(output / "trajectory.xyz", trajectory, format="extxyz")
    md_seconds = time.perf_counter() - start

    rows, labeled = [], {}
    for spec in (parse_method("gfn2-xtb"), parse_method(method, density_fit=True)):
        frames_out, report = label_with_progress(trajectory, spec, label_cache, quiet=quiet, workers=workers)
        write_frames(output / f"{spec.name}.xyz", frames_out)
        rows.append((spec.label, report))
        labeled[spec.label] = frames_out
        print_failures(report.failures, None)
    # The same DFT labels again: every frame comes from the cache.
    _, rerun = label_with_progress(trajectory, spec, label_cache, quiet=True)
    rows.append((f"{spec.label} (re-run)", rerun))

    console.print(f"MD: {len(trajectory)} frames, {frames * interval * timestep_fs:.0f} fs, {md_seconds:.1f} s; files in {output}/", highlight=False)
    console.print(labeling_table(rows))
    console.print(comparison_table(*labeled.values(), *labeled.keys()))


def comparison_table(cheap_frames, reference_frames, cheap_name: str, reference_name: str):
    """How far the cheap method is from the reference on the frames both labeled."""
    import numpy as np
    from rich.table import Table

    reference_by_frame = {atoms.info["frame"]: atoms for atoms in reference_frames}
    pairs = [(a, reference_by_frame[a.info["frame"]]) for a in cheap_frames if a.info["frame"] in reference_by_frame]
    table = Table(title=f"{cheap_name} against {reference_name} ({len(pairs)} frames)")
    table.add_column("quantity")
    table.add_column("MAE", justify="right")
    if not pairs:
        return table
    n_atoms = len(pairs[0][0])
    energies = np.array([[a.get_potential_energy(), b.get_potential_energy()] for a, b in pairs])
    relative = energies - energies.mean(axis=0)  # total energies of different methods differ by a constant
    force_errors = np.concatenate([(a.get_forces() - b.get_forces()).ravel() for a, b in pairs])
    table.add_row("relative energy (meV/atom)", f"{1000 * np.abs(relative[:, 0] - relative[:, 1]).mean() / n_atoms:.2f}")
    table.add_row("force component (eV/Å)", f"{np.abs(force_errors).mean():.3f}")
    return table
