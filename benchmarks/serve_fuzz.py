"""10,000 fuzzed requests to `esml serve` on loopback, and link-following in every pagination mode.

    python benchmarks/serve_fuzz.py [--requests 10000] [--entries 1000] [--out benchmarks/results/serve_fuzz.json]

The server runs on a store of ``--entries`` QM9 molecules, under uvicorn on 127.0.0.1 (nothing
leaves the machine). Each request picks an endpoint (the entry listings, single entries with
made-up ids, info, links, versions) and a random subset of every query parameter the OPTIMADE
spec names, with values drawn from valid ones, numbers far out of range, wrong types and random
text. Counted: the answers by status; a status of 500 or more other than the spec's 501 is a
failure; the bytes the server wrote to stderr meanwhile are its log volume. Then, for offset
(page_offset), number (page_number) and cursor (page_above) paging, the benchmark follows
``links.next`` from the first page to the last and counts how often each entry came.
"""

from __future__ import annotations

import argparse
import contextlib
import io
import json
import os
import platform
import random
import socket
import string
import tempfile
import threading
import time
from collections import Counter
from datetime import date
from pathlib import Path

import requests
import uvicorn

from esml.data.bundled import import_bundled
from esml.data.store import open_store
from esml.serve.app import ServeSettings, create_app

PATHS = ["structures", "references", "info", "info/structures", "info/references", "links", "versions", "structures/1",
         "structures/999999999", "structures/abc", "references/qm9", "references/nothing"]
PROPERTIES = ["id", "nsites", "nelements", "elements", "chemical_formula_reduced", "chemical_formula_anonymous",
              "last_modified", "_esml_energy", "_esml_method", "_esml_gap", "_esml_forces", "_esml_dataset", "colour"]
FILTERS = ['nsites<5', 'elements HAS "C"', 'elements HAS ALL "C","O" AND nsites<8', 'NOT nelements=2', '_esml_gap > 5',
           'chemical_formula_reduced STARTS WITH "C"', 'nsites<', '(((nsites=3)))', 'id="1" OR id="2"', 'x.y=1',
           "nsites<99999999999999999999999", "nsites=nelements", '_esml_method="b3lyp/6-31g(2df,p)"']


def random_value(rng: random.Random) -> str:
    kind = rng.randrange(7)
    if kind == 0:
        return str(rng.randint(-5, 60))
    if kind == 1:
        return str(rng.choice([-1, 0, 10**6, 2**63, 10**25, -10**25]))
    if kind == 2:
        return rng.choice(["", "abc", "1.5", "1e3", "0x10", "NaN", "-0", "🙂"])
    if kind == 3:
        return ",".join(rng.sample(PROPERTIES, rng.randint(1, 3)))
    if kind == 4:
        return rng.choice(FILTERS)
    if kind == 5:
        return "".join(rng.choice(string.printable) for _ in range(rng.randint(0, 30)))
    return "(" * rng.randint(1, 300) + "nsites<3" + ")" * rng.randint(1, 300)


def random_request(rng: random.Random) -> tuple[str, dict]:
    names = ["filter", "page_limit", "page_offset", "page_number", "page_above", "page_below", "sort", "response_fields",
             "response_format", "email_address", "include", "api_hint"]
    params = {name: random_value(rng) for name in rng.sample(names, rng.randint(0, 5))}
    if "sort" in params and rng.random() < 0.5:
        params["sort"] = "-" + rng.choice(PROPERTIES)
    return rng.choice(PATHS), params


def follow(session: requests.Session, url: str, params: dict) -> tuple[Counter, int]:
    """Entry ids seen by following links.next from the first page, and the pages read."""
    seen, pages, link = Counter(), 0, f"{url}/structures"
    while link:
        body = session.get(link, params=params if pages == 0 else None, timeout=60).json()
        seen.update(entry["id"] for entry in body["data"])
        pages += 1
        link = (body.get("links") or {}).get("next")
        link = link["href"] if isinstance(link, dict) else link
    return seen, pages


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=10_000)
    parser.add_argument("--entries", type=int, default=1000)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", type=Path, default=Path("benchmarks/results/serve_fuzz.json"))
    args = parser.parse_args()
    store = open_store(str(Path(tempfile.mkdtemp()) / "store.db"))
    import_bundled(store, "qm9", limit=args.entries)
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    server = uvicorn.Server(uvicorn.Config(create_app(store, ServeSettings()), host="127.0.0.1", port=port, log_level="error"))
    threading.Thread(target=server.run, daemon=True).start()
    while not server.started:
        time.sleep(0.05)
    url, rng = f"http://127.0.0.1:{port}/v1", random.Random(args.seed)
    statuses, failures, log = Counter(), [], io.StringIO()
    start = time.perf_counter()
    with requests.Session() as session, contextlib.redirect_stderr(log):
        for _ in range(args.requests):
            path, params = random_request(rng)
            response = session.get(f"{url}/{path}", params=params, timeout=60)
            statuses[response.status_code] += 1
            if response.status_code >= 500 and response.status_code != 501:
                failures.append({"path": path, "params": params, "status": response.status_code, "body": response.text[:300]})
        seconds = time.perf_counter() - start
        log_bytes = len(log.getvalue().encode())
        paging = {}
        for mode, params in (("offset", {"page_limit": 37}), ("number", {"page_limit": 37, "page_number": 1}),
                             ("cursor", {"page_limit": 37, "page_above": 0})):
            seen, pages = follow(session, url, params)
            paging[mode] = {"pages": pages, "distinct_entries": len(seen), "entries_seen_twice_or_more": sum(n > 1 for n in seen.values())}
    server.should_exit = True
    result = {"date": str(date.today()), "machine": f"{platform.node()} ({os.cpu_count()} cores)",
              "command": f"python benchmarks/serve_fuzz.py --requests {args.requests} --entries {args.entries}",
              "requests": args.requests, "seconds": seconds, "statuses": {str(k): v for k, v in sorted(statuses.items())},
              "server_errors": len(failures), "server_log_bytes": log_bytes, "examples_of_server_errors": failures[:10], "entries": args.entries, "paging": paging}
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=1))
    print(json.dumps({k: result[k] for k in ("statuses", "server_errors", "server_log_bytes", "paging", "seconds")}, indent=1))


if __name__ == "__main__":
    main()
