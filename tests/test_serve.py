"""The OPTIMADE API over the store, on both backends: the official validator passes with no
failure, errors are the spec's documents, a query stops at its deadline, the client reads back
what is stored, and fuzzed filters never make the server fail."""

import socket
import threading
import time
from contextlib import contextmanager

import numpy as np
import pytest
from ase.build import bulk
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from esml.data.bundled import import_bundled
from esml.data.records import Record
from esml.data.write import write_records
from esml.serve.app import ServeSettings, create_app

CRYSTALS = [bulk("Si"), bulk("NaCl", "rocksalt", a=5.64), bulk("Cu", "fcc", a=3.6), bulk("GaAs", "zincblende", a=5.65)]


def fill(store) -> None:
    """QM9's first 60 molecules and four crystals, one with energy, forces and stress."""
    import_bundled(store, "qm9", limit=60)
    records = [Record(atoms=atoms, code="VASP", method="pbe") for atoms in CRYSTALS[1:]]
    silicon = CRYSTALS[0]
    records.append(Record(atoms=silicon, code="VASP", method="pbe", energy=-10.84,
                          forces=np.zeros((2, 3)), stress=np.arange(6.0) * 1e-3))
    write_records(store, records)


@contextmanager
def serving(store, serve_settings: ServeSettings = ServeSettings()):
    """The app under uvicorn on a free loopback port, in a thread."""
    import uvicorn

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    server = uvicorn.Server(uvicorn.Config(create_app(store, serve_settings), host="127.0.0.1", port=port,
                                           log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    for _ in range(500):
        if server.started:
            break
        time.sleep(0.02)
    try:
        yield f"http://127.0.0.1:{port}/v1"
    finally:
        server.should_exit = True
        thread.join(10)


@pytest.fixture
def filled_store(store):
    fill(store)
    return store


def test_official_validator_finds_no_failure(filled_store):
    from optimade.validator import ImplementationValidator

    with serving(filled_store) as url:
        validator = ImplementationValidator(base_url=url, run_optional_tests=True, verbosity=-1)
        validator.validate_implementation()
    results = validator.results
    failures = [*results.failure_messages, *results.optional_failure_messages, *results.internal_failure_messages]
    assert validator.valid and not failures, failures
    assert results.success_count > 50 and results.optional_success_count > 10


def get(url: str, path: str, **params):
    import requests

    response = requests.get(f"{url}/{path}", params=params, timeout=30)
    return response.status_code, response.json()


def test_crystals_filters_pages_and_esml_fields(filled_store):
    with serving(filled_store, ServeSettings(page_limit_max=25)) as url:
        status, body = get(url, "structures", filter='elements HAS "Si" AND nperiodic_dimensions=3',
                           response_fields="lattice_vectors,_esml_energy,_esml_forces,_esml_stress,_esml_method")
        assert status == 200 and body["meta"]["data_returned"] == 1, body
        silicon = body["data"][0]["attributes"]
        assert np.allclose(silicon["lattice_vectors"], CRYSTALS[0].cell.array)
        assert silicon["_esml_energy"] == -10.84 and silicon["_esml_method"] == "pbe"
        assert np.allclose(silicon["_esml_stress"], np.arange(6.0) * 1e-3)
        assert set(silicon) == {"lattice_vectors", "_esml_energy", "_esml_forces", "_esml_stress", "_esml_method"}

        status, body = get(url, "structures", filter='_esml_dataset HAS "qm9-60" AND nsites < 6',
                           sort="-_esml_energy", page_limit=5)
        energies = [entry["attributes"]["_esml_energy"] for entry in body["data"]]
        assert status == 200 and len(energies) == 5 and energies == sorted(energies, reverse=True)
        assert body["meta"]["more_data_available"] and "page_offset=5" in body["links"]["next"]

        status, body = get(url, "references", filter='doi = "10.1038/sdata.2014.22"')
        assert status == 200 and [entry["id"] for entry in body["data"]] == ["qm9"]
        status, body = get(url, "structures", page_limit=26)
        assert status == 403 and "page_limit" in body["errors"][0]["detail"]


@pytest.mark.parametrize("text, status, message", [
    ("nsites <", 400, "ends too early"),
    ('nsites = "three"', 400, "is a number"),
    ("colour = 3", 400, "unknown property 'colour'"),
    ('last_modified > "yesterday"', 400, "is a timestamp"),
    ("a.b = 1", 501, "nested property"),
    ("nsites = nelements", 501, "comparing two properties"),
    ("cartesian_site_positions LENGTH 3", 501, "not supported"),
])
def test_bad_filters_get_the_spec_error_document(sqlite_store, text, status, message):
    fill(sqlite_store)
    with serving(sqlite_store) as url:
        code, body = get(url, "structures", filter=text)
    assert code == status and body["errors"][0]["status"] == str(status)
    assert message in body["errors"][0]["detail"] and "data" not in body


@pytest.mark.parametrize("params, status, message", [
    ({"page_limit": -5}, 400, "page_limit"),
    ({"page_limit": "abc"}, 400, "valid integer"),
    ({"page_offset": -1}, 400, "page_offset"),
    ({"page_offset": "99999999999999999999999"}, 400, "beyond any result"),
    ({"page_number": "x"}, 400, "page_number"),
    ({"page_above": "x"}, 400, "not an id"),
    ({"page_above": "3", "sort": "nsites"}, 400, "leave out sort"),
    ({"filter": "(" * 300 + "nsites<3" + ")" * 300}, 400, "parentheses deep"),
    ({"filter": "nsites<99999999999999999999999"}, 400, "stored integer"),
])
def test_bad_query_parameters_get_a_400_document(sqlite_store, params, status, message):
    fill(sqlite_store)
    with serving(sqlite_store) as url:
        code, body = get(url, "structures", **params)
        missing, missing_body = get(url, "structures/999999")
    assert code == status and body["errors"][0]["status"] == str(status) and message in body["errors"][0]["detail"]
    assert missing == 404 and "data" not in missing_body


@pytest.mark.parametrize("first_page", [{"page_offset": 0}, {"page_number": 1}, {"page_above": 0}, {}])
def test_following_next_links_returns_every_entry_once(sqlite_store, first_page):
    """links.next of page_number pages used to keep page_number and add page_offset: page 2 came
    twice. Cursor paging (page_above: the entries after an id) continues after the last id seen."""
    import requests

    fill(sqlite_store)
    with serving(sqlite_store) as url:
        status, body = get(url, "structures", page_limit=7, **first_page)
        total, seen = body["meta"]["data_returned"], [entry["id"] for entry in body["data"]]
        while body["links"].get("next"):
            body = requests.get(body["links"]["next"], timeout=30).json()
            seen += [entry["id"] for entry in body["data"]]
    assert status == 200 and len(seen) == total == len(set(seen)) > 7


def test_a_query_stops_at_its_deadline(store):
    """Each backend's own mechanism interrupts a statement (a recursive count to 10^9 here)."""
    import sqlalchemy as sa

    from esml.data.store import QueryTimeout, deadline

    endless = sa.text("WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 1000000000) "
                      "SELECT count(*) FROM n")
    start = time.perf_counter()
    with store.engine.connect() as connection, pytest.raises(QueryTimeout, match="longer than 0.3 s"):
        with deadline(connection, 0.3):
            connection.execute(endless)
    assert time.perf_counter() - start < 5


def test_the_server_answers_503_when_a_query_runs_out_of_time(sqlite_store):
    import_bundled(sqlite_store, "qm9", limit=1000)  # enough rows that the count passes SQLite's check interval
    with serving(sqlite_store, ServeSettings(timeout_s=1e-6)) as url:
        status, body = get(url, "structures", filter='_esml_homo < 0 OR chemical_formula_hill CONTAINS "C"')
    assert status == 503 and "narrow the filter" in body["errors"][0]["detail"]


def test_client_reads_back_what_the_store_holds(store, tmp_path):
    """`esml query --provider` against our own server on loopback: same frames as the store."""
    import ase.io
    from typer.testing import CliRunner

    from esml.cli.main import app
    from esml.data.query import query
    from esml.serve.client import ProviderError, query_provider

    fill(store)
    local = query(store, 'elements HAS ANY "Si","N"')
    with serving(store) as url:
        answer = query_provider(url, 'elements HAS ANY "Si","N"', limit=None, page_limit=3)  # several pages
        assert answer.data_returned == len(local) == len(answer.frames)
        for mine, theirs in zip(local, answer.frames):
            assert mine.get_chemical_formula() == theirs.get_chemical_formula()
            assert np.allclose(mine.positions, theirs.positions) and (mine.pbc == theirs.pbc).all()
            assert theirs.info["esml_method"] == mine.info["esml_method"]
        silicon = next(frame for frame in answer.frames if frame.get_chemical_formula() == "Si2")
        assert silicon.get_potential_energy() == -10.84 and np.allclose(silicon.cell, CRYSTALS[0].cell)

        output = tmp_path / "found.xyz"
        result = CliRunner().invoke(app, ["query", "--provider", url.removesuffix("/v1"), "nsites < 4",
                                          "--format", "extxyz", "--output", str(output), "--limit", "0"])
        assert result.exit_code == 0, result.output
        assert len(ase.io.read(output, ":")) == len(query(store, "nsites < 4"))
        with pytest.raises(ProviderError, match="refused the query \\(400\\): filter does not parse"):
            query_provider(url, "nsites <")
    with pytest.raises(ProviderError, match="cannot reach"):
        query_provider(url, "nsites < 4")


def test_serve_refuses_a_busy_port_in_one_line(sqlite_store, tmp_path):
    from typer.testing import CliRunner

    from esml.cli.main import app

    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        result = CliRunner().invoke(app, ["serve", "--db", str(tmp_path / "store.db"), "--port", str(port)])
    assert result.exit_code != 0 and "choose another --port" in str(result.exception)


# --- fuzzing: filters from the grammar's pieces, and arbitrary text ----------------------------
PROPERTIES = ["id", "nsites", "nelements", "elements", "species_at_sites", "chemical_formula_reduced",
              "chemical_formula_anonymous", "last_modified", "_esml_energy", "_esml_method", "_esml_homo",
              "_esml_forces", "_esml_dataset", "structure_features", "_other_x", "colour", "lattice_vectors"]
VALUES = st.one_of(st.integers(-10**12, 10**12).map(str), st.floats(allow_nan=False, allow_infinity=False).map(repr),
                   st.text(max_size=12).map(lambda t: '"' + t.replace("\\", "\\\\").replace('"', '\\"') + '"'),
                   st.sampled_from(['"C"', '"2026-01-01T00:00:00Z"', "TRUE", "x", '"\'; DROP TABLE structures; --"']))
OPERATORS = st.sampled_from(["=", "!=", "<", "<=", ">", ">=", "CONTAINS", "STARTS WITH", "ENDS", "HAS", "HAS ALL",
                             "HAS ANY", "HAS ONLY", "LENGTH", "IS KNOWN", "IS UNKNOWN"])


@st.composite
def comparisons(draw):
    prop, operator = draw(st.sampled_from(PROPERTIES)), draw(OPERATORS)
    if operator.startswith("IS"):
        return f"{prop} {operator}"
    values = ",".join(draw(st.lists(VALUES, min_size=1, max_size=3)))
    return f"{prop} {operator} {values}"


FILTERS = st.recursive(comparisons(), lambda inner: st.one_of(
    st.tuples(inner, st.sampled_from([" AND ", " OR "]), inner).map("".join),
    inner.map(lambda text: f"NOT ({text})")), max_leaves=4)


@pytest.fixture(scope="module")
def fuzz_server(tmp_path_factory):
    import requests

    from esml.data.store import open_store

    opened = open_store(str(tmp_path_factory.mktemp("fuzz") / "store.db"))
    fill(opened)
    with serving(opened) as url, requests.Session() as session:
        yield url, session, opened


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(text=st.one_of(FILTERS, st.text(max_size=60), st.binary(max_size=40).map(lambda b: b.decode("latin-1"))))
def test_fuzzed_filters_get_answers_not_failures(fuzz_server, text):
    """200 with data, 400 for a bad filter, or the spec's 501 for valid OPTIMADE that esml does not
    evaluate; never a 500; never SQL from the text (the store still holds every entry)."""
    from esml.data.query import count

    url, session, opened = fuzz_server
    before = count(opened)
    response = session.get(f"{url}/structures", params={"filter": text, "page_limit": 5}, timeout=30)
    body = response.json()
    assert response.status_code in (200, 400, 501), (text, body)
    assert ("data" in body) == (response.status_code == 200)
    if response.status_code != 200:
        assert body["errors"][0]["detail"]
    assert count(opened) == before


def test_entries_name_their_source_file_without_its_local_path(sqlite_store, tmp_path, water):
    """An ingested file's folders are the user's business: `_esml_source` is its name unless the
    server is started with --show-paths."""
    import ase.io
    from ase.calculators.singlepoint import SinglePointCalculator

    from esml.data.ingest import ingest

    water.calc = SinglePointCalculator(water, energy=-14.2)
    path = tmp_path / "private" / "project" / "water.xyz"
    path.parent.mkdir(parents=True)
    ase.io.write(path, water)
    ingest(sqlite_store, [path])
    for serve_settings, expected in ((ServeSettings(), "water.xyz"), (ServeSettings(show_paths=True), str(path.resolve()))):
        with serving(sqlite_store, serve_settings) as url:
            status, body = get(url, "structures", response_fields="_esml_source")
            assert status == 200 and body["data"][0]["attributes"]["_esml_source"] == expected


NUMBERS = st.one_of(st.integers(-10**25, 10**25).map(str), st.text(max_size=8), st.sampled_from(["", "1.5", "1e3", "0x10", "-0"]))
FIELDS = st.lists(st.sampled_from(PROPERTIES + ["", "id,id", " nsites"]), max_size=4).map(",".join)
PARAMETERS = st.fixed_dictionaries({}, optional={
    "filter": st.one_of(st.sampled_from(['nsites<3', 'elements HAS "C"', "nsites <", "colour=1"]), st.text(max_size=20)),
    "page_limit": NUMBERS, "page_offset": NUMBERS, "page_number": NUMBERS,
    "page_above": NUMBERS, "page_below": NUMBERS, "sort": FIELDS.map(lambda t: t.replace("n", "-n", 1)),
    "response_fields": FIELDS, "response_format": st.sampled_from(["json", "xml", "", "JSON"]),
    "email_address": st.text(max_size=20), "include": st.text(max_size=12), "api_hint": st.text(max_size=6)})
PATHS = st.one_of(st.sampled_from(["structures", "references", "info", "info/structures", "links", "versions"]),
                  st.text(alphabet="0123456789abc-_", max_size=25).map(lambda entry: f"structures/{entry}"))


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(path=PATHS, params=PARAMETERS)
def test_fuzzed_query_parameters_never_get_a_server_error(fuzz_server, path, params):
    """Every query parameter the spec names, with any value, on every endpoint: an answer or a
    4xx/501 document that says why, never a 5xx failure."""
    url, session, _ = fuzz_server
    response = session.get(f"{url}/{path}", params=params, timeout=30)
    assert response.status_code < 500 or response.status_code == 501, (path, params, response.text[:300])
    if response.status_code >= 400 and response.headers.get("content-type", "").startswith("application/"):
        assert response.json()["errors"][0]["detail"], (path, params)
