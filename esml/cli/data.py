"""``esml ingest``, ``esml query``, ``esml export`` and ``esml models``: the store from the command line."""

from __future__ import annotations

from pathlib import Path

import typer

from esml.errors import EsmlError

DB_OPTION = typer.Option(None, "--db", help="Store: a file path (SQLite) or a URL (postgresql+psycopg://…); default $ESML_DB or ./esml.db.")
FILTER_HELP = 'OPTIMADE filter, e.g. \'elements HAS ALL "C","O" AND nsites<10 AND _esml_method="b3lyp/def2-svp"\'.'


def ingest_command(
    paths: list[Path] = typer.Argument(..., help="Files or folders (searched recursively) of code outputs: Gaussian, ORCA, Q-Chem, Psi4, NWChem, "
                                       "GAMESS, Molpro, … (cclib), VASP, QE, FHI-aims, CASTEP, GPAW, Qbox, ABINIT (ASE), extxyz, ASE db, esml labels."),
    db: str = DB_OPTION,
    report_file: Path = typer.Option(None, "--report", help="Also write every file's outcome and reason as JSON to this file."),
    workers: int = typer.Option(1, "--workers", "-j", min=1, help="Processes reading files in parallel; one writes them."),
    quiet: bool = typer.Option(False, "--quiet", "-q", help="No progress bar; the summary is still printed."),
) -> None:
    """Store every calculation of every readable output; report what was skipped and why.

    A file already ingested (same content) is skipped; each file is stored whole or not at all,
    so an interrupted run loses nothing and a re-run continues. Calculations are told apart by
    structure, code, method, charge, spin and settings, and never merged when their energies differ.
    """
    import json

    from esml.atomic import check_writable, write_text
    from esml.cli.console import console, ingest_reasons, ingest_table, progress_bar
    from esml.data.ingest import find_files, ingest, store_files
    from esml.data.store import open_store, resolve_url

    if report_file is not None:
        check_writable(report_file, "--report", "ingest.json")
    files = find_files(paths, exclude=store_files(resolve_url(db)))  # a missing path is refused before a store is made
    store = open_store(db)
    with progress_bar(len(files), "ingesting", quiet) as advance:
        report = ingest(store, files, on_file=lambda _: advance(1), workers=workers)
    console.print(ingest_table(report))
    ingest_reasons(report)
    if report_file is not None:
        write_text(report_file, json.dumps(report.as_json(), indent=1))
        console.print(f"every file's outcome: {report_file}", highlight=False)
    console.print(f"store: {store.url}", highlight=False)
    if report.files_seen and not report.parsed and not report.already_ingested:
        raise typer.Exit(1)


def query_command(
    filter_text: str = typer.Argument("", metavar="FILTER", help=FILTER_HELP),
    db: str = DB_OPTION,
    provider: str = typer.Option(None, help="Ask this OPTIMADE provider instead of the store, e.g. http://127.0.0.1:5000/v1."),
    dataset: str = typer.Option(None, help="Only members of this dataset."),
    split: str = typer.Option(None, help="Only this split of --dataset: train, validation or test."),
    limit: int = typer.Option(20, min=0, help="At most this many entries (0: all)."),
    fmt: str = typer.Option("table", "--format", "-f", help="table, extxyz, json or csv."),
    output: Path = typer.Option(None, "--output", "-o", help="Write here instead of standard output."),
) -> None:
    """Find entries with the OPTIMADE filter language, in the store or at any OPTIMADE provider."""
    from esml.atomic import check_writable
    from esml.cli.query_output import write_query_output

    if output is not None:
        check_writable(output, "the entries", f"entries.{'xyz' if fmt == 'extxyz' else fmt}")
    if provider is not None:
        from esml.serve.client import query_provider

        if dataset is not None or split is not None:
            raise EsmlError("--dataset and --split select from the local store; a provider is queried by filter only")
        answer = query_provider(provider, filter_text, limit=limit or None)
        total = answer.data_returned if answer.data_returned is not None else len(answer.frames)
        write_query_output(answer.frames, total, fmt, output)
        return
    from esml.data.query import count, query
    from esml.data.store import open_store

    store = open_store(db, existing=True)
    frames = query(store, filter_text, dataset=dataset, split=split, limit=limit or None)
    total = count(store, filter_text, dataset=dataset, split=split) if fmt == "table" else len(frames)
    write_query_output(frames, total, fmt, output)


def export_command(
    output: Path = typer.Argument(..., help="Output file: .xyz/.extxyz (extxyz) or .h5/.hdf5 (HDF5)."),
    filter_text: str = typer.Option("", "--filter", help=FILTER_HELP),
    dataset: str = typer.Option(None, help="Only members of this dataset."),
    split: str = typer.Option(None, help="Only this split of --dataset: train, validation or test."),
    fmt: str = typer.Option(None, "--format", "-f", help="extxyz or h5; default from the file name."),
    db: str = DB_OPTION,
) -> None:
    """Export a dataset or a query with energies, forces and properties."""
    from esml.cli.console import console
    from esml.data.export import export_frames
    from esml.data.query import query
    from esml.data.store import open_store

    frames = query(open_store(db, existing=True), filter_text, dataset=dataset, split=split)
    written = export_frames(frames, output, fmt)
    console.print(f"wrote {len(frames)} frames to {output} ({written})", highlight=False)


def models_command(
    prefix: str = typer.Argument("", help="Only models whose name starts with this, e.g. learn:RUN/."),
    db: str = DB_OPTION,
    json_out: Path = typer.Option(None, "--json", help="Every record in full, as JSON."),
) -> None:
    """Fitted models in the store: each round of `esml learn` (its store is OUT/store.sqlite unless
    --db was given) and the model it saved, with how many calculations each learned from."""
    import json
    from dataclasses import asdict

    from rich.table import Table

    from esml.cli.console import console
    from esml.data.model_records import model_records
    from esml.data.store import open_store

    records = model_records(open_store(db, existing=True), prefix)
    if not records:
        raise EsmlError(f"no model in the store{f' whose name starts with {prefix!r}' if prefix else ''}; "
                        "give the store of an esml learn run with --db OUT/store.sqlite")
    table = Table(title="Models")
    table.add_column("name", no_wrap=True)
    for column in ("kind", "trained on", "validation F MAE meV/Å", "MD frames over threshold"):
        table.add_column(column, justify="right")
    for model in records:
        validation = model.record.get("validation", {}).get("force_mae")
        md = model.record.get("md", {})
        table.add_row(model.name, model.kind, str(len(model.training_ids)),
                      "" if validation is None else f"{1000 * validation:.1f}",
                      f"{md['over_threshold']} of {md['frames']}" if md else "")
    console.print(table)
    for model in records:
        if model.file:
            console.print(f"{model.name}: {model.file} (sha256 {model.sha256[:12]}…)", highlight=False, soft_wrap=True)
    if json_out:
        from esml.atomic import write_text

        write_text(json_out, json.dumps([{**asdict(m), "created": m.created.isoformat()} for m in records], indent=1))
