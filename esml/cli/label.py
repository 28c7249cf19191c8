"""``esml label``: reference labels for every frame of a structure file."""

from __future__ import annotations

from pathlib import Path

import typer

from esml.methods import PYSCF_GUESSES, MethodSpec


def label_command(
    structures: Path = typer.Argument(..., help="Structure file, any format ase.io reads (extxyz preferred); every frame is labeled."),
    method: str = typer.Option(..., "--method", "-m", help="gfn2-xtb, gfn1-xtb, or NAME/BASIS: hf/sto-3g, b3lyp/def2-svp, b3lyp-d3bj/def2-svp, mp2/cc-pvdz, ccsd(t)/cc-pvdz."),
    output: Path = typer.Option(..., "--output", "-o", help="Labeled frames as extxyz: energy (eV), forces (eV/Å), dipole (e·Å), charges (e)."),
    charge: int = typer.Option(None, help="Total charge (e) of every frame; default: atoms.info['charge'] or 0."),
    multiplicity: int = typer.Option(None, help="Spin multiplicity 2S+1; default: atoms.info['multiplicity'] or the lowest possible."),
    density_fit: bool = typer.Option(False, "--density-fit", help="Density fitting (RI) for HF and DFT: faster, ~1e-5 eV/atom."),
    dispersion: str = typer.Option(None, help="Empirical dispersion for HF/DFT: d3bj, d3zero, d3bjm, d3zerom, d3op, d4."),
    max_scf_cycles: int = typer.Option(100, help="SCF cycles of DIIS, then as many of the second-order solver, before a frame is reported as not converged."),
    forces: bool = typer.Option(True, "--forces/--no-forces", help="Compute forces (analytic gradients)."),
    initial_guess: str = typer.Option(MethodSpec.initial_guess, "--initial-guess", help=f"Where PySCF's SCF starts: {', '.join(PYSCF_GUESSES)}, or a learned Hamiltonian: ml (shipped, PBE/def2-SVP) or a model file. Labels do not depend on it."),
    workers: int = typer.Option(1, "--workers", "-j", min=1, help="Local worker processes; the cores are split among them."),
    threads: int = typer.Option(None, "--threads", min=1, help="OpenMP threads per worker (default: the cores split among the workers); 1 on a busy machine."),
    scheduler: str = typer.Option(None, help="Dask scheduler address (tcp://HOST:PORT) to run on a cluster instead of local workers."),
    cache: Path = typer.Option(None, help="Label cache (SQLite); default $ESML_CACHE or ~/.cache/esml/labels.sqlite."),
    quiet: bool = typer.Option(False, "--quiet", "-q", help="No progress bar or table."),
) -> None:
    """Label structures with a quantum reference method, cached and in parallel.

    Re-running costs nothing for frames already computed; an interrupted run resumes.
    Failed frames are listed in OUTPUT.failures.jsonl and the others are kept.
    """
    from esml.atomic import check_writable, results_format, write_frames
    from esml.cli.console import console, labeling_table, print_failures
    from esml.methods import parse_method
    from esml.qm.cache import LabelCache, default_cache_path
    from esml.qm.label import write_failures
    from esml.structures import charge_and_multiplicity, check_charge_and_spin, describe, read_structures

    spec = parse_method(method, density_fit=density_fit, dispersion=dispersion, max_scf_cycles=max_scf_cycles,
                        initial_guess=initial_guess)
    frames = read_structures(structures)
    if charge is not None or multiplicity is not None:  # the options', not a frame's own: refused before any work
        for index, atoms in enumerate(frames):
            check_charge_and_spin(atoms, *charge_and_multiplicity(atoms, charge, multiplicity), describe(atoms, index))
    check_writable(output)  # before any work: nothing computed is lost to an output that cannot be written
    output_format = results_format(output)
    label_cache = LabelCache(cache or default_cache_path())
    labeled, report = label_with_progress(
        frames, spec, label_cache, quiet=quiet, charge=charge, multiplicity=multiplicity,
        forces=forces, workers=workers, threads=threads, scheduler=scheduler,
    )
    write_frames(output, labeled, output_format)
    failures_path = output.with_suffix(".failures.jsonl")
    write_failures(failures_path, report.failures)
    if not quiet:
        console.print(labeling_table([(spec.label, report)]))
        console.print(f"wrote {len(labeled)} labeled frames to {output}", highlight=False)
    print_failures(report.failures, str(failures_path))
    if report.failures:
        raise typer.Exit(1)


def label_with_progress(frames, spec, cache, *, quiet: bool, **options):
    """Run :func:`esml.qm.label.label_structures` with a progress bar; Ctrl-C keeps what was computed."""
    from esml.cli.console import console, progress_bar
    from esml.qm.label import label_structures

    try:
        with progress_bar(len(frames), f"labeling with {spec.label}", quiet) as advance:
            return label_structures(frames, spec, cache, on_progress=advance, **options)
    except KeyboardInterrupt:
        console.print("interrupted: every frame computed so far is in the cache; run the same command again to resume")
        raise typer.Exit(130) from None


