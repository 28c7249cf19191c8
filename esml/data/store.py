"""Opening a store: the URL, the engine, and bringing the schema up to date with Alembic.

SQLite (a single file, ``./esml.db`` by default) for one user; PostgreSQL by URL
(``postgresql+psycopg://user:password@host/db``) for many users and large data.
"""

from __future__ import annotations

import os
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import sqlalchemy as sa
from sqlalchemy.engine import Engine

from esml.errors import EsmlError

DEFAULT_URL = "sqlite:///esml.db"
MIGRATIONS = Path(__file__).parent / "migrations"
SCHEMA_ATTEMPTS = 6  # tries to bring a schema up to date while another process creates it (0.1 s … 3.2 s apart)
SCHEMA_LOCK = 0x65736D6C  # PostgreSQL advisory lock held while a schema is created or migrated ("esml")


class StoreError(EsmlError):
    """The store cannot be opened or does not hold what was asked for."""


class QueryTimeout(StoreError):
    """A statement ran past its deadline and was stopped by the database."""


@dataclass(frozen=True)
class Store:
    """An open store; ``url`` hides the password, for messages."""

    engine: Engine

    @property
    def url(self) -> str:
        return self.engine.url.render_as_string(hide_password=True)

    @property
    def dialect(self) -> str:
        return self.engine.dialect.name


def resolve_url(db: str | None) -> str:
    """``--db`` wins, then ``$ESML_DB``, then ``./esml.db``. A bare path means an SQLite file."""
    url = db or os.environ.get("ESML_DB") or DEFAULT_URL
    return url if "://" in url else f"sqlite:///{url}"


def open_store(db: str | None = None, existing: bool = False) -> Store:
    """Connect, and create or migrate the schema to the newest revision. With ``existing`` (the
    commands that only read), an SQLite file that is not there is an error, not a new empty store."""
    url = resolve_url(db)
    path = sa.engine.make_url(url).database if url.startswith("sqlite") else None
    if existing and path and path != ":memory:" and not Path(path).exists():
        raise StoreError(f"no store at {path}; check the name, or fill one first with `esml ingest` or `esml datasets import`")
    if path and Path(path).is_dir():
        raise StoreError(f"{path} is a folder; give --db the path of a store file (e.g. {Path(path) / 'esml.db'})")
    try:
        engine = _create_engine(url)
        upgrade(engine)
    except sa.exc.ArgumentError as error:
        raise StoreError(f"cannot use database URL {url!r} ({error}); give a file path or a URL like postgresql+psycopg://user@host/db") from None
    except sa.exc.OperationalError as error:
        reason = str(error.orig).strip().splitlines()[0]
        raise StoreError(f"cannot open database {_hidden(url)}: {reason}") from None
    except sa.exc.DatabaseError as error:  # a file that is something else (an .xyz given as --db)
        reason = str(error.orig).strip().splitlines()[0]
        raise StoreError(f"{path or _hidden(url)} is not an esml store ({reason}); give --db a store file or a new name") from None
    except ModuleNotFoundError as error:
        raise StoreError(f"database URL {_hidden(url)} needs the Python package {error.name!r}") from None
    return Store(engine)


def upgrade(engine: Engine, revision: str = "head") -> None:
    """Alembic ``upgrade head`` on this engine; a new store and an old one end on the same schema.
    An older ``revision`` makes a store as an earlier esml made it (the migration tests)."""
    from alembic import command
    from alembic.config import Config

    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    for attempt in range(SCHEMA_ATTEMPTS):
        try:
            with engine.begin() as connection:
                if connection.dialect.name == "postgresql":  # a second creator waits for the first to commit
                    connection.exec_driver_sql(f"SELECT pg_advisory_xact_lock({SCHEMA_LOCK})")
                config.attributes["connection"] = connection
                command.upgrade(config, revision)
            return
        except (sa.exc.OperationalError, sa.exc.ProgrammingError, sa.exc.IntegrityError) as error:
            # SQLite runs DDL outside transactions: another process creating the same new store
            # makes a table "already exist" or the file "locked"; its schema is complete soon after
            racing = any(word in str(error.orig) for word in ("already exists", "locked", "duplicate"))
            if not racing or attempt == SCHEMA_ATTEMPTS - 1:
                raise
            time.sleep(0.1 * 2**attempt)


@contextmanager
def deadline(connection: sa.Connection, seconds: float) -> Iterator[None]:
    """Statements on this connection stop after ``seconds``: PostgreSQL's statement_timeout, or
    an SQLite progress handler that interrupts the running statement."""
    if connection.dialect.name == "postgresql":
        connection.exec_driver_sql(f"SET LOCAL statement_timeout = {int(seconds * 1000)}")
        with _timeouts_raised(seconds):
            yield
        return
    if connection.dialect.name != "sqlite":
        yield
        return
    raw = connection.connection.dbapi_connection
    end = time.monotonic() + seconds
    raw.set_progress_handler(lambda: time.monotonic() > end, 10_000)
    try:
        with _timeouts_raised(seconds):
            yield
    finally:
        raw.set_progress_handler(None, 0)


@contextmanager
def _timeouts_raised(seconds: float) -> Iterator[None]:
    try:
        yield
    except sa.exc.OperationalError as error:
        cancelled = type(error.orig).__name__ == "QueryCanceled" or "interrupted" in str(error.orig)
        if cancelled:
            raise QueryTimeout(f"the query ran longer than {seconds:g} s and was stopped; narrow the filter") from None
        raise


def _hidden(url: str) -> str:
    return repr(sa.engine.make_url(url).render_as_string(hide_password=True))


def _create_engine(url: str) -> Engine:
    if not url.startswith("sqlite"):
        return sa.create_engine(url, pool_pre_ping=True)
    path = sa.engine.make_url(url).database
    if path and path != ":memory:" and not Path(path).parent.exists():
        raise StoreError(f"cannot create database {path!r}: folder {str(Path(path).parent)!r} does not exist")
    engine = sa.create_engine(url)
    sa.event.listen(engine, "connect", _sqlite_pragmas)
    return engine


def _sqlite_pragmas(dbapi_connection, _record) -> None:
    # WAL lets readers (a server, a query) run while an ingest writes; foreign keys are off by default in SQLite.
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.close()
