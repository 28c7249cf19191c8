"""``esml ingest``: find output files, read them, store their frames; report what was skipped and why."""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path

from esml.data.readers import ReadError, read_records
from esml.data.records import check_record
from esml.data.store import Store
from esml.data.write import Source, source_id_if_known, write_records
from esml.errors import EsmlError

MAX_BYTES = 2 * 1024**3  # a bigger file is reported, not read: readers hold all frames in memory


@dataclass
class IngestReport:
    """Counts over one ``ingest`` run; ``skipped`` and ``rejected`` hold (path, reason)."""

    files_seen: int = 0
    parsed: int = 0
    already_ingested: int = 0
    frames_added: int = 0
    duplicates: int = 0
    skipped: list[tuple[str, str]] = field(default_factory=list)
    rejected: list[tuple[str, str]] = field(default_factory=list)  # frames refused inside parsed files


def find_files(paths: Iterable[Path]) -> list[Path]:
    """Files under the given paths, recursively, in a stable order; hidden files and folders skipped."""
    found: list[Path] = []
    for path in paths:
        if not path.exists():
            raise EsmlError(f"{str(path)!r} does not exist; give files or folders to ingest")
        if path.is_file():
            found.append(path)
            continue
        found.extend(sorted(p for p in path.rglob("*") if p.is_file() and not _hidden(p.relative_to(path))))
    return found


def ingest(store: Store, paths: Iterable[Path], on_file: Callable[[Path], None] | None = None,
           max_bytes: int = MAX_BYTES) -> IngestReport:
    """Ingest every readable file under ``paths``. Each file is one transaction, so an
    interrupted run keeps the files it finished and a re-run skips them by content hash."""
    report = IngestReport()
    for path in find_files(paths):
        report.files_seen += 1
        ingest_file(store, path, report, max_bytes)
        if on_file:
            on_file(path)
    return report


def ingest_file(store: Store, path: Path, report: IngestReport, max_bytes: int = MAX_BYTES) -> None:
    size = path.stat().st_size
    if size > max_bytes:
        report.skipped.append((str(path), f"larger than {max_bytes / 1024**3:.1f} GiB ({size / 1024**3:.1f} GiB)"))
        return
    sha256 = file_sha256(path)
    if source_id_if_known(store, sha256) is not None:
        report.already_ingested += 1
        return
    try:
        parser, records = read_records(path)
    except ReadError as error:
        report.skipped.append((str(path), str(error)))
        return
    good = []
    for record in records:
        try:
            check_record(record)
            good.append(record)
        except EsmlError as error:
            report.rejected.append((f"{path}@{record.frame}", str(error)))
    if not good:
        report.skipped.append((str(path), f"no usable frame ({report.rejected[-1][1]})"))
        return
    result = write_records(store, good, Source(path=str(path.resolve()), sha256=sha256, parser=parser))
    report.parsed += 1
    report.frames_added += result.added
    report.duplicates += result.duplicates


def file_sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as stream:
        for block in iter(lambda: stream.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _hidden(relative: Path) -> bool:
    return any(part.startswith(".") for part in relative.parts)
