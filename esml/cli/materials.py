"""``esml materials``: stability of compounds from computed or predicted energies."""

from __future__ import annotations

import json
from pathlib import Path

import typer

from esml.errors import EsmlError

app = typer.Typer(help="Materials: formation energies and convex-hull stability.", no_args_is_help=True)


@app.command("hull")
def hull_command(
    data: Path = typer.Argument(..., exists=True, dir_okay=False, help="CSV with a formula and an energy column."),
    formula: str = typer.Option("formula", help="Column of formulas (Fe2O3)."),
    energy: str = typer.Option("energy", help="Column of energies, eV for the formula as written."),
    per_atom: bool = typer.Option(False, "--per-atom", help="The energies are eV/atom."),
    json_out: Path = typer.Option(None, "--json", help="Write the ranking here as JSON."),
) -> None:
    """Rank every compound of DATA by its energy above the convex hull that all rows build together."""
    import pandas as pd

    from esml.cli.console import console
    from esml.cli.tables import read_table
    from esml.properties.materials import entry, rank_by_hull

    table = read_table(data, [formula, energy], hint="; choose them with --formula/--energy")
    energies = pd.to_numeric(table[energy], errors="coerce")
    entries = [entry(str(f), float(e), per_atom) for f, e in zip(table[formula], energies)]
    rows = [{"formula": s.formula, "row": k, "formation_energy_eV_per_atom": s.formation_energy,
             "e_above_hull_eV_per_atom": s.e_above_hull, "decomposition": s.decomposition}
            for k, s in rank_by_hull(entries, entries)]
    for row in rows:
        console.print(f"{row['formula']:<14} E_form {row['formation_energy_eV_per_atom']:+.4f}  "
                      f"E_hull {row['e_above_hull_eV_per_atom']:.4f} eV/atom", highlight=False)
    if json_out:
        from esml.atomic import write_text

        write_text(json_out, json.dumps(rows, indent=1))


@app.command("generate")
def generate_command(
    elements: str = typer.Option(..., help="Elements to decorate the prototypes with, comma-separated (Si,C)."),
    prototypes: str = typer.Option(None, help="Names (rocksalt, zincblende, wurtzite, cscl, nias, fluorite, rutile, "
                                              "alb2, cdi2, l12, perovskite) or AFLOW labels, comma-separated."),
    strains: str = typer.Option(None, help="Linear scale factors of each cell (default 0.92,0.96,1,1.04,1.08)."),
    references: str = typer.Option("fcc,bcc,hcp,diamond", help="Elemental structures of every element (the hull's ends)."),
    min_width: float = typer.Option(8.0, min=0.0, help="Smallest cell width (Å); cells are repeated to reach it."),
    out: Path = typer.Option(Path("candidates.extxyz"), "--out", "-o", help="Where the structures go (extxyz)."),
) -> None:
    """Decorate AFLOW prototypes (and elemental references) with ELEMENTS, at several volumes."""
    import ase.io

    from esml.cli.console import console
    from esml.properties.prototypes import DEFAULT_PROTOTYPES, DEFAULT_STRAINS, GenerateConfig, generate

    try:
        scales = tuple(float(s) for s in strains.split(",")) if strains else DEFAULT_STRAINS
    except ValueError:
        raise EsmlError(f"--strains {strains!r}: give scale factors separated by commas, e.g. 0.96,1,1.04") from None
    if min(scales) <= 0:
        raise EsmlError(f"--strains {strains!r}: scale factors must be positive, e.g. 0.96,1,1.04")
    config = GenerateConfig(
        prototypes=tuple(p.strip() for p in prototypes.split(",")) if prototypes else DEFAULT_PROTOTYPES,
        strains=scales, min_width=min_width,
        references=tuple(r.strip() for r in references.split(",") if r.strip()))
    frames = generate([e.strip() for e in elements.split(",")], config)
    ase.io.write(out, frames, format="extxyz")
    kinds = len({(a.info["prototype"], a.info["formula"]) for a in frames})
    console.print(f"{len(frames)} structures ({kinds} decorated prototypes x {len(config.strains)} volumes, "
                  f"{sum(len(a) for a in frames)} atoms) -> {out}; label them with `esml label {out} --method gfn1-xtb`",
                  highlight=False)


@app.command("rank")
def rank_command(
    frames: Path = typer.Argument(..., exists=True, dir_okay=False, help="Generated structures; labeled unless --model."),
    model: Path = typer.Option(None, help="A potential (model.pt) that predicts the energies on a finer volume grid."),
    json_out: Path = typer.Option(None, "--json", help="Write the ranking here as JSON."),
    plot: Path = typer.Option(None, help="PNG of formation energy against composition, with the hull (binaries)."),
) -> None:
    """Rank every decorated prototype by its energy above the hull of all of them."""
    import ase.io

    from esml.cli.console import console
    from esml.properties.materials import composition
    from esml.properties.ranking import fine_scans, labeled_energies, minima, model_energies, plot_hull, rank, scans, unit_cells

    structures = ase.io.read(frames, ":")
    if model:
        from esml.potentials import load

        groups = fine_scans(scans(unit_cells(structures)))  # a local model needs only the repeated cell
        energies = model_energies(load(model), groups)
    else:
        groups = scans(structures)
        energies = labeled_energies(groups)
    ranked = rank(minima(groups, energies))
    rows = [{"formula": m.formula, "prototype": m.prototype, "energy_eV_per_atom": m.energy_per_atom,
             "volume_A3_per_atom": m.volume_per_atom, "minimum_inside_scan": m.inside,
             "formation_energy_eV_per_atom": s.formation_energy, "e_above_hull_eV_per_atom": s.e_above_hull}
            for m, s in ranked]
    for row in rows:
        edge = "" if row["minimum_inside_scan"] else "  (minimum at the edge of the scan)"
        console.print(f"{row['formula']:<8} {row['prototype']:<11} E_form {row['formation_energy_eV_per_atom']:+.4f}  "
                      f"E_hull {row['e_above_hull_eV_per_atom']:.4f} eV/atom{edge}", highlight=False)
    if json_out:
        from esml.atomic import write_text

        write_text(json_out, json.dumps(rows, indent=1))
    if plot:
        elements = sorted({str(e) for m, _ in ranked for e in composition(m.formula).elements})
        plot_hull(ranked, elements, plot)
