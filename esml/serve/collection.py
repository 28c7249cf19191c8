"""An OPTIMADE entry collection answered by SQL on the esml store.

The ``optimade`` package's routers call ``find``; its ``EntryCollection`` turns the query
parameters into criteria (the filter through our transformer, page limits, sort fields), and
``_run_db_query`` here runs them as one page query and one count, under a deadline.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa
from optimade.exceptions import BadRequest, Forbidden, NotFound, NotImplementedResponse, OptimadeHTTPException
from optimade.server.entry_collections import EntryCollection

from esml.data.filter import LARGEST_INTEGER, FilterError, FilterNotSupported, Vocabulary, condition_from_tree, parse_tree
from esml.data.store import QueryTimeout, Store, deadline


class ServiceUnavailable(OptimadeHTTPException):
    """503: the query was stopped at the server's deadline."""

    status_code: int = 503
    title: str = "Service Unavailable"


@dataclass(frozen=True)
class EntryType:
    """How one OPTIMADE entry type is stored: its filter vocabulary, its SQL, its documents."""

    resource_cls: type
    mapper_cls: type
    vocabulary: Vocabulary
    query: Callable[[sa.ColumnElement[bool]], sa.Select]  # filtered rows, unordered
    size: sa.Select  # the number of entries, cheaply (every response reports it)
    order_key: sa.ColumnElement  # the default order, and the tie-break of every sort
    documents: Callable[[sa.Connection, list], list[dict]]


class FilterParser:
    """The collection's parser: esml's one-line messages for filters outside the grammar (400)."""

    def parse(self, text: str):
        try:
            return parse_tree(text)
        except FilterError as error:
            raise BadRequest(detail=str(error)) from None


class SQLFilter:
    """The transformer the collection hands parsed filters to: OPTIMADE tree -> SQL condition,
    with esml's errors as OPTIMADE's 400 and 501."""

    def __init__(self, vocabulary: Vocabulary):
        self.vocabulary = vocabulary

    def transform(self, tree) -> sa.ColumnElement[bool]:
        try:
            return condition_from_tree(tree, self.vocabulary)
        except FilterNotSupported as error:
            raise NotImplementedResponse(detail=str(error)) from None
        except FilterError as error:
            raise BadRequest(detail=str(error)) from None


def public_source(document: dict) -> dict:
    """A document whose ``source`` names the ingested file without the folders it was on: a
    server must not publish its users' local paths (a bundled set's name stays as it is)."""
    source = document.get("source")
    if source:
        document = {**document, "source": re.split(r"[\\/]", source)[-1]}
    return document


class SQLCollection(EntryCollection):
    """Read-only entries of one type, queried in SQL; a statement stops after ``timeout_s``."""

    def __init__(self, store: Store, entry: EntryType, config, timeout_s: float, show_paths: bool = False):
        super().__init__(resource_cls=entry.resource_cls, resource_mapper=entry.mapper_cls(config),
                         transformer=SQLFilter(entry.vocabulary), config=config)
        self.parser = FilterParser()
        self.store = store
        self.entry = entry
        self.timeout_s = timeout_s
        self.show_paths = show_paths

    def __len__(self) -> int:
        with self._connection() as connection:
            return connection.execute(self.entry.size).scalar_one()

    def count(self, **kwargs: Any) -> int:
        with self._connection() as connection:
            return self._count(connection, kwargs.get("filter", sa.true()))

    def insert(self, data) -> None:
        raise Forbidden(detail="this OPTIMADE API is read-only; add data with `esml ingest`")

    def _run_db_query(self, criteria: dict[str, Any], single_entry: bool = False) -> tuple[list[dict], int, bool]:
        condition = criteria["filter"] if isinstance(criteria["filter"], sa.ColumnElement) else sa.true()
        on_page = condition  # data_returned counts the whole result; a cursor only moves the page
        if "page_above" in criteria:
            on_page = sa.and_(condition, self._above(criteria["page_above"], criteria.get("sort")))
        limit = criteria["limit"]
        if criteria.get("skip", 0) > LARGEST_INTEGER:
            raise BadRequest(detail=f"page_offset {criteria['skip']} is beyond any result; at most {LARGEST_INTEGER}")
        page = (self.entry.query(on_page).order_by(*self._order(criteria.get("sort", ())))
                .limit(limit + 1).offset(criteria.get("skip", 0)))
        with self._connection() as connection:
            rows = connection.execute(page).all()
            data_returned = self._count(connection, condition)
            documents = self.entry.documents(connection, rows[:limit])
        if not self.show_paths:
            documents = [public_source(document) for document in documents]
        if single_entry and not documents:
            raise NotFound(detail="no entry with this id; list the entries (without an id) to see which exist")
        return documents, data_returned, len(rows) > limit

    def _above(self, value: str, sort) -> sa.ColumnElement[bool]:
        """Cursor paging: the entries after ``value`` of the default order (the id)."""
        if sort:
            raise BadRequest(detail="page_above pages through the default order (by id); leave out sort, or page with page_offset")
        key = self.entry.order_key
        try:
            cursor = key.type.python_type(value)
        except (TypeError, ValueError):
            raise BadRequest(detail=f"page_above {value!r} is not an id of this endpoint; give the id of the last entry seen") from None
        if isinstance(cursor, int) and abs(cursor) > LARGEST_INTEGER:
            raise BadRequest(detail=f"page_above {value!r} is beyond any id; at most {LARGEST_INTEGER}")
        return key > cursor

    def get_next_query_params(self, params, results) -> dict[str, list[str]]:
        """The next page's parameters: after the last entry's id when paging by cursor, else optimade's offset."""
        if getattr(params, "page_above", None) is not None and isinstance(results, list) and results:
            return {"page_above": [str(results[-1]["id"])]}
        return super().get_next_query_params(params, results)

    def _count(self, connection: sa.Connection, condition: sa.ColumnElement[bool]) -> int:
        matching = self.entry.query(condition).subquery()
        return connection.execute(sa.select(sa.func.count()).select_from(matching)).scalar_one()

    def _order(self, sort: list[tuple[str, int]]) -> list[sa.ColumnElement]:
        order = []
        for backend_field, direction in sort:
            name = self.resource_mapper.get_optimade_field(backend_field)
            prop = self.entry.vocabulary.scalars.get(name)
            if prop is None:
                sortable = ", ".join(sorted(self.entry.vocabulary.scalars))
                raise BadRequest(detail=f"cannot sort on {name!r}: sort on one of {sortable}")
            order.append(prop.column.desc() if direction < 0 else prop.column.asc())
        return [*order, self.entry.order_key]

    @contextmanager
    def _connection(self) -> Iterator[sa.Connection]:
        with self.store.engine.connect() as connection:
            try:
                with deadline(connection, self.timeout_s):
                    yield connection
            except QueryTimeout as timeout:  # a 503 with the reason, not a hung worker
                raise ServiceUnavailable(detail=str(timeout)) from None
