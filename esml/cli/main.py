"""Entry point of the ``esml`` command."""

from __future__ import annotations

import sys

import typer

from esml import __version__
from esml.cli import (
    data,
    datasets,
    demo,
    evaluate,
    interpret,
    label,
    learn,
    materials,
    properties,
    qmc,
    serve,
    simulate,
    train,
    xc,
)
from esml.errors import EsmlError

app = typer.Typer(
    name="esml",
    help="Machine learning for electronic structure. Units: eV, Å, fs, e.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
app.command("label")(label.label_command)
app.command("demo")(demo.demo_command)
app.command("ingest")(data.ingest_command)
app.command("query")(data.query_command)
app.command("export")(data.export_command)
app.command("models")(data.models_command)
app.command("serve")(serve.serve_command)
app.add_typer(datasets.app, name="datasets")
app.command("train")(train.train_command)
app.command("evaluate")(evaluate.evaluate_command)
app.command("learn")(learn.learn_command)
app.command("md")(simulate.md_command)
app.command("optimize")(simulate.optimize_command)
app.command("vibrate")(simulate.vibrate_command)
app.command("fit-property")(properties.fit_property_command)
app.command("predict")(properties.predict_command)
app.command("learning-curve")(properties.learning_curve_command)
app.command("sisso")(interpret.sisso_command)
app.command("attribute")(interpret.attribute_command)
app.add_typer(materials.app, name="materials")
app.command("vmc")(qmc.vmc_command)
app.add_typer(xc.app, name="xc")


def _version(value: bool) -> None:
    if value:
        print(f"esml {__version__}")
        raise typer.Exit()


@app.callback()
def _root(version: bool = typer.Option(False, "--version", callback=_version, is_eager=True, help="Print the version and exit.")) -> None:
    """Machine learning for electronic structure. Units: eV, Å, fs, e."""


def main() -> None:
    """Run the CLI; a user mistake prints one line and exits 2, never a traceback."""
    try:
        app()
    except EsmlError as error:
        print(f"esml: error: {error}", file=sys.stderr)
        sys.exit(2)
