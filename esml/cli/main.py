"""Entry point of the ``esml`` command."""

from __future__ import annotations

import os
import sys
import warnings

import typer
from typer.exceptions import TyperException

from esml import __version__
from esml.cli import (
    data,
    datasets,
    demo,
    disorder,
    electronic,
    evaluate,
    interpret,
    label,
    learn,
    materials,
    properties,
    qmc,
    search,
    serve,
    simulate,
    spectrum,
    train,
    xc,
)
from esml.errors import EsmlError, EsmlWarning

app = typer.Typer(
    name="esml",
    help="Machine learning for electronic structure. Units: eV, Å, fs, e.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
app.command("label")(label.label_command)
app.command("electronic")(electronic.electronic_command)
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
app.add_typer(spectrum.app, name="spectrum")
app.command("fit-property")(properties.fit_property_command)
app.command("predict")(properties.predict_command)
app.command("learning-curve")(properties.learning_curve_command)
app.command("sisso")(interpret.sisso_command)
app.command("attribute")(interpret.attribute_command)
app.add_typer(materials.app, name="materials")
app.command("vmc")(qmc.vmc_command)
app.command("anderson")(disorder.anderson_command)
app.command("structure")(disorder.structure_command)
app.add_typer(xc.app, name="xc")
app.command("search")(search.search_command)
app.command("search-policy")(search.search_policy_command)


SHOW_WARNING = warnings.showwarning  # Python's, for every warning that is not esml's
DEBUG = "ESML_DEBUG"  # set (or --debug) to see the traceback behind an error
INTERRUPTED = "esml: interrupted; everything computed so far is kept (run the same command again to go on)"


def _version(value: bool) -> None:
    if value:
        print(f"esml {__version__}")
        raise typer.Exit()


@app.callback()
def _root(version: bool = typer.Option(False, "--version", callback=_version, is_eager=True, help="Print the version and exit."),
          debug: bool = typer.Option(False, "--debug", help="Show the traceback behind an error (as ESML_DEBUG=1 does).")) -> None:
    """Machine learning for electronic structure. Units: eV, Å, fs, e."""
    if debug:
        os.environ[DEBUG] = "1"


def main() -> None:
    """Run the CLI. Whatever goes wrong ends in one line on stderr and a non-zero exit, never a
    traceback: a user's mistake (a bad option, a file that cannot be read or written, an input esml
    refuses) exits 2; an interruption exits 130 with everything computed so far kept; anything else
    is a bug in esml, said as such, and exits 1. ``--debug`` or ESML_DEBUG=1 shows the traceback."""
    warnings.showwarning = _show_warning
    try:
        code = app(standalone_mode=False)
    except typer.Exit as done:  # a command's own exit status (1: a budget ran out, frames failed)
        code = done.exit_code
    except Exception as error:
        if os.environ.get(DEBUG):
            raise
        message, code = one_line(error)
        if message:
            print(message, file=sys.stderr)
    except KeyboardInterrupt:
        print(INTERRUPTED, file=sys.stderr)
        code = 130
    sys.exit(code if isinstance(code, int) else 0)


def _show_warning(message, category, filename, lineno, file=None, line=None) -> None:
    """esml's own warnings as one line each; other libraries' as Python shows them."""
    if issubclass(category, EsmlWarning):
        print(f"esml: warning: {message}", file=sys.stderr)
    else:
        SHOW_WARNING(message, category, filename, lineno, file, line)


def one_line(error: Exception) -> tuple[str, int]:
    """The line an error that escaped a command is reported with, and the exit status."""
    if isinstance(error, EsmlError):
        return f"esml: error: {error}", 2
    if isinstance(error, typer.Abort):
        return INTERRUPTED, 130
    if isinstance(error, TyperException):  # a bad option or argument, in the same style as every refusal
        text = error.format_message().rstrip(".")
        if not text:  # a command given without arguments: its help was shown
            return "", error.exit_code
        context = getattr(error, "ctx", None)
        command = f"{context.command_path} --help" if context else "esml --help"
        return f"esml: error: {text[:1].lower()}{text[1:]}; see `{command}`", error.exit_code
    if isinstance(error, OSError):
        where = f": {error.filename}" if error.filename else ""
        return (f"esml: error: {error.strerror or type(error).__name__}{where}; check the path, and that the "
                "folder exists and you may write there", 2)
    return (f"esml: internal error: {type(error).__name__}: {str(error).splitlines()[0] if str(error) else ''} "
            f"(a bug in esml: run again with --debug for the traceback, and report it)", 1)
