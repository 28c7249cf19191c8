import os
import uuid
from contextlib import contextmanager

import pytest
from ase import Atoms
from ase.build import molecule


@pytest.fixture(autouse=True)
def private_cache(tmp_path, monkeypatch):
    """Every test gets its own label cache; the user's is never touched."""
    path = tmp_path / "labels.sqlite"
    monkeypatch.setenv("ESML_CACHE", str(path))
    return path


@pytest.fixture
def water() -> Atoms:
    return molecule("H2O")


@pytest.fixture
def rattled_waters() -> list[Atoms]:
    frames = []
    for seed in range(4):
        atoms = molecule("H2O")
        atoms.rattle(0.03, seed=seed)
        frames.append(atoms)
    return frames


@pytest.fixture(params=["sqlite", "postgresql"])
def store(request, tmp_path):
    """An empty store on each backend: an SQLite file, and a fresh database on the PostgreSQL
    server named by $ESML_TEST_POSTGRES (.ci/start-postgres starts one and prints its URL)."""
    from esml.data.store import open_store

    if request.param == "sqlite":
        yield open_store(str(tmp_path / "store.db"))
        return
    with fresh_postgres_database() as url:
        opened = open_store(url)
        yield opened
        opened.engine.dispose()


@pytest.fixture
def sqlite_store(tmp_path):
    from esml.data.store import open_store

    return open_store(str(tmp_path / "store.db"))


@contextmanager
def fresh_postgres_database():
    import sqlalchemy as sa

    server = os.environ.get("ESML_TEST_POSTGRES")
    if not server:
        if os.environ.get("CI"):
            pytest.fail("CI must test the PostgreSQL backend: .ci/run sets ESML_TEST_POSTGRES")
        pytest.skip("no PostgreSQL server: export ESML_TEST_POSTGRES=$(.ci/start-postgres)")
    name = f"esml_test_{uuid.uuid4().hex[:12]}"
    admin = sa.create_engine(server, isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        connection.execute(sa.text(f"CREATE DATABASE {name}"))
    try:
        yield sa.engine.make_url(server).set(database=name).render_as_string(hide_password=False)
    finally:
        try:
            with admin.connect() as connection:
                connection.execute(sa.text(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
        finally:
            admin.dispose()  # even when the drop fails: no connection is left for the garbage collector


@pytest.fixture(scope="session")
def ethanol_frames() -> list[Atoms]:
    """24 rattled ethanol frames labeled with GFN2-xTB (energy, forces), 4 of them 'test'."""
    from esml.qm import calculator

    xtb = calculator("gfn2-xtb")
    frames = []
    for seed in range(24):
        atoms = molecule("CH3CH2OH")
        atoms.rattle(0.05, seed=seed)
        atoms.calc = xtb
        atoms.get_forces()
        from ase.calculators.singlepoint import SinglePointCalculator

        atoms.calc = SinglePointCalculator(atoms, energy=atoms.get_potential_energy(), forces=atoms.get_forces())
        atoms.info["split"] = "test" if seed >= 20 else "train"
        frames.append(atoms)
    return frames


@pytest.fixture(scope="session")
def ethanol_file(ethanol_frames, tmp_path_factory):
    import ase.io

    path = tmp_path_factory.mktemp("data") / "ethanol.xyz"
    ase.io.write(path, ethanol_frames, format="extxyz")
    return path
