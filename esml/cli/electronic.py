"""``esml electronic``: orbital energies, HOMO–LUMO gap and dipole read from a learned Hamiltonian,
without an SCF (a fast estimate; the SCF it would start is ``esml label --initial-guess``)."""

from __future__ import annotations

import json
from pathlib import Path

import typer


def electronic_command(
    structures: Path = typer.Argument(..., help="Molecules, any format ase.io reads; every frame is estimated."),
    model: str = typer.Option("ml", "--model", help="A learned Hamiltonian: ml (shipped, PBE/def2-SVP, H C N O F) or a model file."),
    output: Path = typer.Option(None, "--json", help="Write the estimates (eV, e·Å) as JSON."),
) -> None:
    """Estimate each molecule's frontier orbitals and dipole from the model's Fock matrix."""
    from rich.table import Table

    from esml.atomic import check_outputs, write_text
    from esml.cli.console import console
    from esml.hamiltonians.estimate import estimate
    from esml.structures import describe, read_structures
    from esml.units import DEBYE_TO_E_ANGSTROM

    check_outputs((output, "the JSON file", "estimates.json"))
    frames = read_structures(structures)
    estimates = [estimate(atoms, model) for atoms in frames]
    table = Table(title=f"Estimated from the learned Hamiltonian ({estimates[0].method})")
    for column in ("structure", "HOMO (eV)", "LUMO (eV)", "gap (eV)", "|μ| (D)"):
        table.add_column(column)
    for index, (atoms, found) in enumerate(zip(frames, estimates)):
        table.add_row(describe(atoms, index), f"{found.homo:.3f}", f"{found.lumo:.3f}", f"{found.gap:.3f}",
                      f"{float((found.dipole ** 2).sum() ** 0.5) / DEBYE_TO_E_ANGSTROM:.3f}")
    console.print(table)
    if output:
        write_text(output, json.dumps([{"structure": describe(atoms, index), "homo_eV": found.homo, "lumo_eV": found.lumo,
                                        "gap_eV": found.gap, "dipole_eA": found.dipole.tolist(),
                                        "orbital_energies_eV": found.orbital_energies.tolist(), "method": found.method}
                                       for index, (atoms, found) in enumerate(zip(frames, estimates))], indent=1))
