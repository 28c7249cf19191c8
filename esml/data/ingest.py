"""``esml ingest``: find output files, read them, store their frames; report each file's outcome.

Each file is one transaction and no file can stop the run: a reader's failure, whatever its
kind, becomes that file's skip reason. Two ingests may run at once into one store: a file the
other run stored first counts as already ingested, and a calculation the other run stored
first as a duplicate.
"""

from __future__ import annotations

import functools
import hashlib
from collections import Counter
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import ProcessPoolExecutor
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from pathlib import Path

import sqlalchemy as sa

from esml.data.readers import ReadError, read_records
from esml.data.records import check_record
from esml.data.store import Store
from esml.data.write import Source, source_id_if_known, write_records
from esml.errors import EsmlError

MAX_BYTES = 2 * 1024**3  # a bigger file is reported, not read: readers hold all frames in memory
STORED, ALREADY, SKIPPED = "stored", "already ingested", "skipped"


@dataclass
class FileOutcome:
    """What happened to one file: ``outcome`` is stored, already ingested or skipped."""

    path: str
    outcome: str
    reason: str | None = None
    parser: str | None = None
    frames: int = 0
    added: int = 0
    duplicates: int = 0
    kept_apart: int = 0
    rejected: list[str] = field(default_factory=list)  # "frame N: reason" for frames refused in a stored file
    sha256: str | None = None


@dataclass
class IngestReport:
    """Every file's outcome, and the counts over them."""

    files: list[FileOutcome] = field(default_factory=list)

    @property
    def files_seen(self) -> int:
        return len(self.files)

    @property
    def parsed(self) -> int:
        return sum(f.outcome == STORED for f in self.files)

    @property
    def already_ingested(self) -> int:
        return sum(f.outcome == ALREADY for f in self.files)

    @property
    def frames_added(self) -> int:
        return sum(f.added for f in self.files)

    @property
    def duplicates(self) -> int:
        return sum(f.duplicates for f in self.files)

    @property
    def kept_apart(self) -> int:
        return sum(f.kept_apart for f in self.files)

    @property
    def skipped(self) -> list[tuple[str, str]]:
        return [(f.path, f.reason or "") for f in self.files if f.outcome == SKIPPED]

    @property
    def rejected(self) -> list[tuple[str, str]]:
        return [(f.path, reason) for f in self.files for reason in f.rejected]

    def skip_reasons(self) -> list[tuple[str, int]]:
        """Each distinct skip reason and how many files had it, most frequent first."""
        return Counter(reason for _, reason in self.skipped).most_common()

    def as_json(self) -> dict:
        counts = {name: getattr(self, name) for name in ("files_seen", "parsed", "already_ingested", "frames_added",
                                                         "duplicates", "kept_apart")}
        return {**counts, "files": [asdict(f) for f in self.files]}


def find_files(paths: Iterable[Path], exclude: Iterable[Path] = ()) -> list[Path]:
    """Files under the given paths, recursively, in a stable order; hidden files and folders, and
    ``exclude`` (the store's own files), skipped."""
    excluded = {p.resolve() for p in exclude}
    found: list[Path] = []
    for path in paths:
        if not path.exists():
            raise EsmlError(f"{str(path)!r} does not exist; give files or folders to ingest")
        if path.is_file():
            found.append(path)
            continue
        found.extend(sorted(p for p in path.rglob("*") if p.is_file() and not _hidden(p.relative_to(path))))
    return [p for p in found if p.resolve() not in excluded]


def store_files(url: str) -> list[Path]:
    """An SQLite store's file and its journals (from the store's URL), which an ingest of the
    folder holding them must not read."""
    parsed = sa.engine.make_url(url)
    database = parsed.database if parsed.get_backend_name() == "sqlite" else None
    if not database or database == ":memory:":
        return []
    return [Path(database + suffix) for suffix in ("", "-wal", "-shm", "-journal")]


def ingest(store: Store, paths: Iterable[Path], on_file: Callable[[Path], None] | None = None,
           max_bytes: int = MAX_BYTES, workers: int = 1) -> IngestReport:
    """Ingest every readable file under ``paths``. Each file is one transaction, so an
    interrupted run keeps the files it finished and a re-run skips them by content hash.
    ``workers`` processes read files in parallel; this one writes them, in the files' order."""
    report = IngestReport()
    files = find_files(paths, exclude=store_files(str(store.engine.url)))
    order = {path: index for index, path in enumerate(files)}
    # largest first, so parallel readers finish together; the same order for any number of readers,
    # so which file's copy of a duplicate is kept does not depend on ``workers``
    files = sorted(files, key=lambda path: (-path.stat().st_size, order[path]))
    with _pool(workers) as pool:
        for outcome, records in pool(functools.partial(read_file, store=store if workers == 1 else None,
                                                       max_bytes=max_bytes), files):
            if records:
                outcome = _write(store, Path(outcome.path), records, outcome)
            report.files.append(outcome)
            if on_file:
                on_file(Path(outcome.path))
    report.files.sort(key=lambda outcome: order[Path(outcome.path)])
    return report


def read_file(path: Path, store: Store | None = None, max_bytes: int = MAX_BYTES) -> tuple[FileOutcome, list]:
    """The file's outcome so far and its good records (none when skipped). With ``store``, a file
    whose content is stored already is not read; without (in a worker), the writer checks that."""
    outcome = FileOutcome(str(path), SKIPPED)
    size = path.stat().st_size
    if size > max_bytes:
        outcome.reason = f"larger than {max_bytes / 1024**3:.1f} GiB ({size / 1024**3:.1f} GiB)"
        return outcome, []
    outcome.sha256 = file_sha256(path)
    if store is not None and source_id_if_known(store, outcome.sha256) is not None:
        outcome.outcome = ALREADY
        return outcome, []
    try:
        outcome.parser, records = read_records(path)
    except ReadError as error:
        outcome.reason = str(error)
        return outcome, []
    except Exception as error:  # a reader's bug must not stop the run; the file is reported instead
        outcome.reason = f"the reader crashed ({type(error).__name__}: {str(error).strip()[:160]}); please report it"
        return outcome, []
    good = []
    for record in records:
        try:
            check_record(record)
            if not record.has_results:
                raise EsmlError("no energy or forces: a structure, not a calculation")
            good.append(record)
        except EsmlError as error:
            outcome.rejected.append(f"frame {record.frame}: {error}")
    if not good:
        outcome.reason = f"no usable frame ({outcome.rejected[-1].split(': ', 1)[1]})"
        outcome.rejected = []
    return outcome, good


@contextmanager
def _pool(workers: int) -> Iterator[Callable]:
    """A map over files that yields in their order: this process alone, or ``workers`` forked readers."""
    if workers <= 1:
        yield map
        return
    import multiprocessing

    with ProcessPoolExecutor(workers, mp_context=multiprocessing.get_context("fork")) as executor:
        yield lambda function, items: executor.map(function, items)


def _write(store: Store, path: Path, records: list, outcome: FileOutcome) -> FileOutcome:
    """Store the file's records; a concurrent ingest that stored the same file or calculation
    first makes this one an already-ingested file or a retry that finds its rows."""
    sha256 = outcome.sha256 or file_sha256(path)
    if source_id_if_known(store, sha256) is not None:
        outcome.outcome = ALREADY
        return outcome
    source = Source(path=str(path.resolve()), sha256=sha256, parser=outcome.parser or "")
    for attempt in range(3):
        try:
            result = write_records(store, records, source)
            break
        except sa.exc.IntegrityError:
            if source_id_if_known(store, sha256) is not None:
                outcome.outcome = ALREADY
                return outcome
            if attempt == 2:
                raise
    outcome.outcome = STORED
    outcome.frames = len(records)
    outcome.added, outcome.duplicates, outcome.kept_apart = result.added, result.duplicates, result.kept_apart
    return outcome


def file_sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as stream:
        for block in iter(lambda: stream.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _hidden(relative: Path) -> bool:
    return any(part.startswith(".") for part in relative.parts)
