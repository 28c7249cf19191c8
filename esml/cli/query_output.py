"""How ``esml query`` prints what it found: a table, or extxyz / JSON / CSV for other tools."""

from __future__ import annotations

import csv
import io
import json
import sys
from pathlib import Path

from ase import Atoms

from esml.errors import EsmlError

FORMATS = ("table", "extxyz", "json", "csv")
COLUMNS = ("id", "formula", "nsites", "code", "method", "energy_eV", "forces", "source")


def write_query_output(frames: list[Atoms], total: int, fmt: str, output: Path | None) -> None:
    if fmt not in FORMATS:
        raise EsmlError(f"unknown format {fmt!r}; use one of {', '.join(FORMATS)}")
    if fmt == "table":
        _print_table(frames, total)
        return
    text = {"extxyz": _extxyz, "json": _json, "csv": _csv}[fmt](frames)
    if output is None:
        sys.stdout.write(text)
    else:
        from esml.atomic import write_text

        write_text(output, text)


def summary_row(atoms: Atoms) -> dict:
    results = atoms.calc.results if atoms.calc is not None else {}
    info = atoms.info
    return {
        "id": info.get("esml_id", info.get("optimade_id")),  # a provider's entries carry its own id
        "formula": atoms.get_chemical_formula(),
        "nsites": len(atoms),
        "code": info.get("esml_code"),
        "method": info.get("esml_method"),
        "energy_eV": results.get("energy"),
        "forces": "forces" in results,
        "source": info.get("esml_source"),
    }


def _print_table(frames: list[Atoms], total: int) -> None:
    from rich.table import Table

    from esml.cli.console import console

    table = Table(title=f"{len(frames)} of {total} entries")
    for column in COLUMNS:
        table.add_column(column, justify="right" if column in ("id", "nsites", "energy_eV") else "left")
    for atoms in frames:
        row = summary_row(atoms)
        energy = row["energy_eV"]
        row["energy_eV"] = "" if energy is None else f"{energy:.6f}"
        row["forces"] = "yes" if row["forces"] else ""
        table.add_row(*("" if row[c] is None else str(row[c]) for c in COLUMNS))
    console.print(table)


def _extxyz(frames: list[Atoms]) -> str:
    import ase.io

    buffer = io.StringIO()
    ase.io.write(buffer, frames, format="extxyz")
    return buffer.getvalue()


def _json(frames: list[Atoms]) -> str:
    entries = []
    for atoms in frames:
        results = atoms.calc.results if atoms.calc is not None else {}
        entries.append({
            **{key: value for key, value in atoms.info.items() if isinstance(value, (str, int, float))},
            "numbers": atoms.numbers.tolist(), "positions": atoms.positions.tolist(),
            "cell": atoms.cell.array.tolist(), "pbc": atoms.pbc.tolist(),
            **{key: value.tolist() if hasattr(value, "tolist") else value for key, value in results.items()},
        })
    return json.dumps(entries, indent=1) + "\n"


def _csv(frames: list[Atoms]) -> str:
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=COLUMNS)
    writer.writeheader()
    for atoms in frames:
        writer.writerow(summary_row(atoms))
    return buffer.getvalue()
