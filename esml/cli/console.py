"""Progress bars and summary tables shared by the commands."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn, TimeRemainingColumn
from rich.table import Table

console = Console(stderr=True)


@contextmanager
def progress_bar(total: int, description: str, quiet: bool = False) -> Iterator[Callable[[int], None]]:
    """Yields ``advance(n)``; draws nothing when ``quiet``."""
    if quiet:
        yield lambda n: None
        return
    with _bar() as progress:
        task = progress.add_task(description, total=total)
        yield lambda n: progress.advance(task, n)


@contextmanager
def live_progress(total: int, title: str, quiet: bool = False) -> Iterator[Callable[[int, str], None]]:
    """Yields ``show(completed, text)``: a bar whose text carries live numbers (errors, temperature)."""
    if quiet:
        yield lambda completed, text: None
        return
    with _bar() as progress:
        task = progress.add_task(title, total=total)
        yield lambda completed, text: progress.update(task, completed=completed, description=text)


@contextmanager
def _bar() -> Iterator[Progress]:
    """A progress bar that stays on screen when its work is done and vanishes when an error ends it,
    so that the error is the one line a user reads."""
    columns = (TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(), TimeRemainingColumn())
    with Progress(*columns, console=console, transient=False) as progress:
        try:
            yield progress
        except Exception:
            progress.live.transient = True
            raise


def labeling_table(rows: list[tuple[str, object]]) -> Table:
    """A table of labeling runs: one row per (method, LabelReport)."""
    table = Table(title="Labeling")
    for column in ("method", "frames", "computed", "from cache", "failed", "wall s", "frames/s"):
        table.add_column(column, justify="left" if column == "method" else "right")
    for method, report in rows:
        rate = report.labeled / report.seconds if report.seconds > 0 else float("inf")
        table.add_row(
            method, str(report.n_frames), str(report.computed), str(report.cached),
            str(len(report.failures)), f"{report.seconds:.2f}", f"{rate:.1f}",
        )
    return table


def print_failures(failures: list, where: str | None, limit: int = 5) -> None:
    if not failures:
        return
    for failure in failures[:limit]:
        console.print(f"[red]failed[/red] {failure.reason}", highlight=False)
    if len(failures) > limit:
        console.print(f"... and {len(failures) - limit} more", highlight=False)
    if where:
        console.print(f"{len(failures)} frame(s) failed; reasons in {where}", highlight=False)


def ingest_table(report) -> Table:
    """Summary of an ``esml ingest`` run (an IngestReport)."""
    table = Table(title="Ingest")
    for column in ("files seen", "stored", "already ingested", "skipped", "frames added", "duplicates", "kept apart",
                   "frames rejected"):
        table.add_column(column, justify="right")
    table.add_row(*map(str, (report.files_seen, report.parsed, report.already_ingested, len(report.skipped),
                             report.frames_added, report.duplicates, report.kept_apart, len(report.rejected))))
    return table


def ingest_reasons(report, examples: int = 3) -> None:
    """Every distinct reason a file was skipped, with its count and a few of its files; then the
    frames refused inside stored files, and what "duplicates" and "kept apart" mean."""
    by_reason: dict[str, list[str]] = {}
    for path, reason in report.skipped:
        by_reason.setdefault(reason, []).append(path)
    for reason, paths in sorted(by_reason.items(), key=lambda item: -len(item[1])):
        shown = ", ".join(paths[:examples]) + (f", … ({len(paths) - examples} more)" if len(paths) > examples else "")
        console.print(f"[yellow]skipped {len(paths)}[/yellow]: {reason} — {shown}", highlight=False, soft_wrap=True)
    for where, reason in report.rejected[:examples]:
        console.print(f"[yellow]rejected frame[/yellow] {where}: {reason}", highlight=False, soft_wrap=True)
    if len(report.rejected) > examples:
        console.print(f"... and {len(report.rejected) - examples} more rejected frames", highlight=False)
    if report.duplicates:
        console.print(f"{report.duplicates} duplicates: the same structure, code, method, charge, spin and settings "
                      "with the same energy as a stored calculation", highlight=False)
    if report.kept_apart:
        console.print(f"{report.kept_apart} kept apart: the same identity as a stored calculation but another energy "
                      "(a code that does not print its method, say); stored as separate calculations", highlight=False)
