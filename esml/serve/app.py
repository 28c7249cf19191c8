"""The OPTIMADE v1.2 API over an esml store: the ``optimade`` package's routers, models, middleware
and error documents, with esml's SQL collections behind them.

Endpoints: /versions, /info, /info/{entry}, /structures, /structures/{id}, /references,
/references/{id}, /links, each also under /v1, /v1.2 and /v1.2.0. Read-only; pages capped at
``page_limit_max``; each database statement stops after ``timeout_s`` (503).
"""

from __future__ import annotations

from dataclasses import dataclass

import sqlalchemy as sa

import esml
from esml.data.filter import STRUCTURES, entries_query
from esml.data.schema import calculations
from esml.data.store import Store
from esml.serve.collection import EntryType, SQLCollection
from esml.serve.documents import PROVIDER_FIELDS, dataset_names, structure_document
from esml.serve.static_entries import (
    LINKS_TABLE,
    LINKS_VOCABULARY,
    REFERENCES_TABLE,
    REFERENCES_VOCABULARY,
    link_documents,
    reference_documents,
)

DEFAULT_PAGE_LIMIT = 20  # fixed by the optimade package's query parameters


@dataclass(frozen=True)
class ServeSettings:
    """What a deployment may change."""

    base_url: str | None = None  # the public URL, when behind a proxy; else taken from each request
    page_limit_max: int = 200  # a client's page_limit above this gets 403; the default page is 20
    timeout_s: float = 10.0
    show_paths: bool = False  # publish ingested files' full local paths in _esml_source; by default only their names


def server_config(settings: ServeSettings):
    from optimade.models import Implementation, Provider
    from optimade.server.config import ServerConfig

    return ServerConfig(
        provider=Provider(prefix="esml", name="esml",
                          description="Reference quantum-chemistry data computed or collected by esml"),
        implementation=Implementation(name="esml", version=esml.__version__),
        provider_fields={"structures": PROVIDER_FIELDS},
        page_limit=DEFAULT_PAGE_LIMIT, page_limit_max=settings.page_limit_max, base_url=settings.base_url,
        insert_test_data=False, log_level="warning")


def _structure_documents(connection: sa.Connection, rows: list) -> list[dict]:
    datasets = dataset_names(connection, [row.id for row in rows])
    return [structure_document(row, datasets.get(row.id, [])) for row in rows]


def entry_types() -> dict[str, EntryType]:
    from optimade.models import LinksResource, ReferenceResource, StructureResource
    from optimade.server.mappers import LinksMapper, ReferenceMapper, StructureMapper

    return {
        "structures": EntryType(StructureResource, StructureMapper, STRUCTURES, entries_query,
                                sa.select(sa.func.count()).select_from(calculations),  # one entry per calculation
                                calculations.c.id, _structure_documents),
        "references": EntryType(ReferenceResource, ReferenceMapper, REFERENCES_VOCABULARY,
                                lambda condition: sa.select(REFERENCES_TABLE).where(condition),
                                sa.select(sa.func.count()).select_from(REFERENCES_TABLE), REFERENCES_TABLE.c.id, lambda _, rows: reference_documents(rows)),
        "links": EntryType(LinksResource, LinksMapper, LINKS_VOCABULARY,
                           lambda condition: sa.select(LINKS_TABLE).where(condition),
                           sa.select(sa.func.count()).select_from(LINKS_TABLE), LINKS_TABLE.c.id, lambda _, rows: link_documents(rows)),
    }


class PageNumberAsOffset:
    """ASGI middleware: ``page_number=N`` becomes ``page_offset=(N-1)·page_limit`` before the optimade
    routers see it. Their ``links.next`` advanced ``page_offset`` from 0 while keeping
    ``page_number``, and the offset then won: following the link returned the same page again."""

    def __init__(self, app):
        self.app = app

    async def __call__(self, scope, receive, send):
        if scope["type"] == "http" and b"page_number=" in scope.get("query_string", b""):
            scope = {**scope, "query_string": page_number_as_offset(scope["query_string"])}
        await self.app(scope, receive, send)


def page_number_as_offset(query: bytes) -> bytes:
    """The query string with a valid 1-based page_number turned into a page_offset (others left for
    the parameter validation to refuse); one given together with page_offset is dropped, as the
    optimade package does."""
    from urllib.parse import parse_qsl, urlencode

    pairs = parse_qsl(query.decode("latin-1"), keep_blank_values=True)
    values = dict(pairs)
    number, limit = values.get("page_number", ""), values.get("page_limit", str(DEFAULT_PAGE_LIMIT))
    if not (number.isdecimal() and limit.isdecimal()):
        return query
    rest = [(key, value) for key, value in pairs if key != "page_number"]
    if "page_offset" not in values:
        rest.append(("page_offset", str(max(int(number) - 1, 0) * int(limit))))
    return urlencode(rest).encode("latin-1")


async def bad_parameters(request, error):
    """A query parameter of the wrong type or range: the spec's 400 error document, one line per
    parameter, instead of the optimade package's 500."""
    from optimade.models import OptimadeError
    from optimade.server.exception_handlers import general_exception

    detail = "; ".join(f"{'.'.join(str(part) for part in problem['loc'][1:])}: {problem['msg']}" for problem in error.errors())
    return general_exception(request, error, status_code=400,
                             errors=[OptimadeError(detail=detail, status="400", title="Bad Request")])


def quiet_warnings():
    """optimade's warnings middleware, less its copy of every OPTIMADE warning on the server's stderr:
    the client gets each one in ``meta.warnings``, and a log line per odd parameter buried the
    server's own messages (690 kB in 10,000 fuzzed requests)."""
    from optimade.models import Warnings
    from optimade.server.middleware import AddWarnings
    from optimade.warnings import LocalOptimadeWarning, OptimadeWarning

    class Quiet(AddWarnings):
        def showwarning(self, message, category, filename, lineno, file=None, line=None) -> None:
            if not isinstance(message, OptimadeWarning) or isinstance(message, LocalOptimadeWarning):
                return super().showwarning(message, category, filename, lineno, file, line)
            title = str(getattr(message, "title", None) or type(message).__name__)
            detail = str(getattr(message, "detail", None) or message)
            self._warnings.append(Warnings(title=title, detail=detail).model_dump(exclude_unset=True))

    return Quiet


def create_app(store: Store, settings: ServeSettings = ServeSettings()):
    """A FastAPI application serving ``store``; run it with uvicorn (``esml serve``)."""
    from fastapi import FastAPI
    from fastapi.exceptions import RequestValidationError
    from optimade import __api_version__
    from optimade.server.exception_handlers import OPTIMADE_EXCEPTIONS
    from optimade.server.mappers.entries import BaseResourceMapper
    from optimade.server.middleware import OPTIMADE_MIDDLEWARE, AddWarnings
    from optimade.server.routers import info, links, references, structures, versions
    from optimade.server.routers.utils import BASE_URL_PREFIXES, JSONAPIResponse

    config = server_config(settings)
    app = FastAPI(title="esml OPTIMADE API", version=__api_version__, default_response_class=JSONAPIResponse,
                  docs_url=None, redoc_url=None, openapi_url=f"{BASE_URL_PREFIXES['major']}/extensions/openapi.json")
    app.state.config = config
    app.state.entry_collections = {name: SQLCollection(store, entry, config, settings.timeout_s, settings.show_paths)
                                   for name, entry in entry_types().items()}
    app.state.base_resource_mapper = BaseResourceMapper(config)
    for middleware in OPTIMADE_MIDDLEWARE:
        app.add_middleware(quiet_warnings() if middleware is AddWarnings else middleware)
    app.add_middleware(PageNumberAsOffset)  # added last: runs first
    for exception, handler in OPTIMADE_EXCEPTIONS:
        app.add_exception_handler(exception, handler)
    app.add_exception_handler(RequestValidationError, bad_parameters)
    routers = [info, links, references, structures]
    for router in [*routers, versions]:
        app.include_router(router.router)
    for prefix in BASE_URL_PREFIXES.values():
        for router in routers:
            app.include_router(router.router, prefix=prefix, include_in_schema=False)
    return app


def app_from_environment():
    """The app for each of several uvicorn worker processes (``esml serve --workers N``)."""
    import json
    import os

    from esml.data.store import open_store

    settings = json.loads(os.environ["ESML_SERVE"])
    return create_app(open_store(settings.pop("db")), ServeSettings(**settings))
