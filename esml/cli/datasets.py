"""``esml datasets``: bundled benchmark data, and named datasets with stored splits."""

from __future__ import annotations

import typer

from esml.cli.data import DB_OPTION, FILTER_HELP

app = typer.Typer(help="Import bundled data sets; create, list and delete datasets with stored splits.", no_args_is_help=True)


@app.command("import")
def import_command(
    name: str = typer.Argument(..., help="qm9 (130,831 molecules, from the qm9pack wheel), qm7 (7,101 molecules, bundled) or g2 (77 CCSD(T)/CBS references: molecules, atoms, cations)."),
    limit: int = typer.Option(None, min=1, help="Only the first N molecules (dataset named NAME-N)."),
    seed: int = typer.Option(0, help="Seed of the stored 80/10/10 split."),
    db: str = DB_OPTION,
    quiet: bool = typer.Option(False, "--quiet", "-q"),
) -> None:
    """Load a bundled benchmark data set into the store, offline."""
    from esml.cli.console import console, progress_bar
    from esml.data.bundled import BUNDLED, import_bundled
    from esml.data.store import open_store
    from esml.errors import EsmlError
    from esml.functionals.g2 import g2_set

    sets = {**BUNDLED, "g2": g2_set()}
    if name not in sets:
        raise EsmlError(f"unknown data set {name!r}; esml bundles {', '.join(sets)}")
    store = open_store(db)
    total = limit or (sets[name].size if name in sets else 0)
    with progress_bar(total, f"importing {name}", quiet) as advance:
        summary = import_bundled(store, name, sets=sets, limit=limit, seed=seed, on_progress=advance)
    console.print(f"dataset {summary.name!r}: {_sizes(summary.sizes)} in {store.url}", highlight=False)


@app.command("create")
def create_command(
    name: str = typer.Argument(..., help="A new dataset name."),
    filter_text: str = typer.Option(..., "--filter", help=FILTER_HELP),
    fractions: str = typer.Option("0.8,0.1,0.1", help="train,validation,test fractions."),
    seed: int = typer.Option(0, help="Seed of the stored split."),
    description: str = typer.Option("", help="What the dataset is for."),
    db: str = DB_OPTION,
) -> None:
    """A dataset of everything the filter matches, with a seeded, stored split."""
    from esml.cli.console import console
    from esml.data.datasets import dataset_from_filter
    from esml.data.store import open_store

    try:
        parts = [float(part) for part in fractions.split(",")]
    except ValueError:
        raise typer.BadParameter(f"--fractions must be three numbers like 0.8,0.1,0.1, got {fractions!r}") from None
    summary = dataset_from_filter(open_store(db, existing=True), name, filter_text, fractions=parts, seed=seed, description=description)
    console.print(f"dataset {summary.name!r}: {_sizes(summary.sizes)}", highlight=False)


@app.command("list")
def list_command(db: str = DB_OPTION) -> None:
    """Datasets in the store with the sizes of their splits."""
    from rich.table import Table

    from esml.cli.console import console
    from esml.data.datasets import list_datasets
    from esml.data.store import open_store

    table = Table(title="Datasets")
    for column in ("name", "train", "validation", "test", "definition"):
        table.add_column(column)
    for summary in list_datasets(open_store(db, existing=True)):
        table.add_row(summary.name, *(str(summary.sizes[s]) for s in ("train", "validation", "test")), summary.definition)
    console.print(table)


@app.command("delete")
def delete_command(name: str = typer.Argument(...), db: str = DB_OPTION) -> None:
    """Delete a dataset and its split; the calculations stay in the store."""
    from esml.cli.console import console
    from esml.data.datasets import delete_dataset
    from esml.data.store import open_store

    delete_dataset(open_store(db, existing=True), name)
    console.print(f"deleted dataset {name!r}", highlight=False)


def _sizes(sizes: dict[str, int]) -> str:
    return ", ".join(f"{n} {split}" for split, n in sizes.items())
