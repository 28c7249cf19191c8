"""``esml serve``: the store as an OPTIMADE API."""

from __future__ import annotations

import socket

import typer

from esml.cli.data import DB_OPTION
from esml.errors import EsmlError


def serve_command(
    db: str = DB_OPTION,
    host: str = typer.Option("127.0.0.1", help="Address to listen on; 0.0.0.0 for every interface."),
    port: int = typer.Option(5000, min=1, max=65535, help="TCP port."),
    base_url: str = typer.Option(None, help="Public URL of this server when it sits behind a proxy (used in links)."),
    page_limit_max: int = typer.Option(200, min=20, help="Largest page a client may ask for (larger: 403); the default page is 20."),
    timeout: float = typer.Option(10.0, min=0.1, help="Seconds a database query may run before the answer is 503."),
    workers: int = typer.Option(1, min=1, help="Server processes (each opens its own database connections)."),
    show_paths: bool = typer.Option(False, "--show-paths", help="Publish the full local path of each ingested file in _esml_source (default: its name only)."),
) -> None:
    """Serve the store read-only through OPTIMADE v1.2 (/v1/info, /v1/structures, /v1/references, /v1/links).

    Any OPTIMADE client can then query it, e.g.
    `esml query --provider http://127.0.0.1:5000/v1 'elements HAS "C"'` or the optimade-validator.
    """
    import uvicorn

    from esml.cli.console import console
    from esml.data.query import count
    from esml.data.store import open_store, resolve_url

    store = open_store(db, existing=True)  # fails here, with one line, on a bad URL; migrates an old store once
    _check_port_free(host, port)
    settings = dict(base_url=base_url, page_limit_max=page_limit_max, timeout_s=timeout, show_paths=show_paths)
    entries = count(store)
    console.print(f"serving {store.url} ({entries} entries) at http://{host}:{port}/v1 (Ctrl-C stops)", highlight=False)
    if entries == 0:
        console.print("[yellow]the store is empty[/yellow]: add data with `esml ingest` or `esml datasets import qm9`")
    if workers == 1:
        from esml.serve.app import ServeSettings, create_app

        uvicorn.run(create_app(store, ServeSettings(**settings)), host=host, port=port, log_level="warning")
        return
    # Several processes: uvicorn imports the app factory in each, configured through the environment.
    import json
    import os

    os.environ["ESML_SERVE"] = json.dumps({"db": resolve_url(db), **settings})
    uvicorn.run("esml.serve.app:app_from_environment", factory=True, host=host, port=port, workers=workers,
                log_level="warning")


def _check_port_free(host: str, port: int) -> None:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind((host, port))
        except OSError as error:
            raise EsmlError(f"cannot listen on {host}:{port} ({error.strerror}); choose another --port or --host") from None
