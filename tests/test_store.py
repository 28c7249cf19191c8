"""The store on SQLite and PostgreSQL: schema, writing, dedupe, round trips, datasets."""

import hashlib

import numpy as np
import pytest
import sqlalchemy as sa
from ase.build import bulk, molecule

from esml.data.datasets import assign_splits, create_dataset, dataset_from_filter, delete_dataset, list_datasets
from esml.data.model_records import model_records, record_model
from esml.data.query import count, query
from esml.data.records import Record, formula_anonymous, formula_hill, formula_reduced, structure_hash
from esml.data.store import Store, StoreError, open_store, resolve_url, upgrade
from esml.data.write import write_records
from esml.errors import StructureError


def full_record(atoms, method="pbe/def2-svp", energy=-10.0, seed=0):
    rng = np.random.default_rng(seed)
    n = len(atoms)
    return Record(atoms=atoms, code="pyscf", code_version="pyscf==2.14.0", method=method, functional="pbe",
                  basis="def2-svp", charge=0, multiplicity=1, settings={"density_fit": True}, energy=energy,
                  forces=rng.normal(size=(n, 3)), stress=rng.normal(size=6), dipole=rng.normal(size=3),
                  charges=rng.normal(size=n), properties={"homo": -7.5}, original_units={"energy": "Hartree"})


def test_schema_is_migrated_to_head_and_reopening_keeps_data(store):
    write_records(store, [full_record(molecule("H2O"))])
    reopened = open_store(store.engine.url.render_as_string(hide_password=False))
    with reopened.engine.connect() as connection:
        assert connection.execute(sa.text("SELECT version_num FROM alembic_version")).scalar() == "0002"
    assert count(reopened) == 1
    reopened.engine.dispose()


def test_a_store_of_the_first_schema_is_upgraded_and_keeps_its_data(tmp_path):
    engine = sa.create_engine(f"sqlite:///{tmp_path / 'old.db'}")
    upgrade(engine, "0001")
    write_records(Store(engine), [full_record(molecule("H2O"))])
    upgraded = open_store(str(tmp_path / "old.db"))
    assert count(upgraded) == 1 and model_records(upgraded) == []


def test_models_are_recorded_by_name_and_listed_by_prefix(store, tmp_path):
    ids = write_records(store, [full_record(molecule("H2O")), full_record(molecule("NH3"))]).calculation_ids
    weights = tmp_path / "model.pt"
    weights.write_bytes(b"weights")
    record_model(store, "learn:run_1/round-1", "gp", ids[:1], {"validation": {"force_mae": 0.2}})
    record_model(store, "learn:run_1/round-1", "gp", ids[:1], {"validation": {"force_mae": 0.1}})  # refitted
    record_model(store, "learn:run_1/final", "delta", ids, {"status": "converged"}, file=weights)
    record_model(store, "learn:runX1/final", "gp", ids, {})
    models = model_records(store, "learn:run_1/")  # "_" is a character here, not a wildcard
    assert [m.name for m in models] == ["learn:run_1/round-1", "learn:run_1/final"]
    assert models[0].record == {"validation": {"force_mae": 0.1}} and models[0].training_ids == ids[:1]
    assert models[1].file == str(weights.resolve()) and models[1].sha256 == hashlib.sha256(b"weights").hexdigest()


def test_round_trip_keeps_every_array_bit_for_bit(store):
    water = molecule("H2O")
    record = full_record(water)
    write_records(store, [record])
    (frame,) = query(store)
    assert np.array_equal(frame.positions, water.positions)
    assert np.array_equal(frame.numbers, water.numbers)
    results = frame.calc.results
    assert results["energy"] == record.energy
    for name in ("forces", "stress", "dipole", "charges"):
        assert np.array_equal(results[name], getattr(record, name))
    assert frame.info["esml_method"] == "pbe/def2-svp"
    assert frame.info["homo"] == -7.5
    assert frame.info["charge"] == 0 and frame.info["multiplicity"] == 1


def test_periodic_cell_survives(store):
    crystal = bulk("NaCl", "rocksalt", a=5.64)
    write_records(store, [Record(atoms=crystal, code="VASP", energy=-6.7)])
    (frame,) = query(store, "nperiodic_dimensions=3")
    assert np.allclose(frame.cell.array, crystal.cell.array)
    assert frame.pbc.all()


def test_same_calculation_twice_is_a_duplicate_and_new_method_is_not(store):
    water = molecule("H2O")
    first = write_records(store, [full_record(water)])
    again = write_records(store, [full_record(water), full_record(water)])
    other = write_records(store, [full_record(water, method="b3lyp/def2-svp")])
    assert (first.added, again.added, again.duplicates, other.added) == (1, 0, 2, 1)
    assert again.calculation_ids == first.calculation_ids * 2
    with store.engine.connect() as connection:
        assert connection.execute(sa.text("SELECT count(*) FROM structures")).scalar() == 1


def test_structure_hash_ignores_atom_order_but_not_geometry():
    water = molecule("H2O")
    permuted = water[[2, 0, 1]]
    moved = water.copy()
    moved.positions[0, 0] += 1e-4
    assert structure_hash(water) == structure_hash(permuted)
    assert structure_hash(water) != structure_hash(moved)


def test_formulas_follow_optimade():
    counts = {"C": 2, "H": 6, "O": 1}
    assert (formula_reduced(counts), formula_hill(counts), formula_anonymous(counts)) == ("C2H6O", "C2H6O", "A6B2C")
    assert formula_reduced({"Na": 4, "Cl": 4}) == "ClNa"
    assert formula_hill({"O": 2, "Ti": 1}) == "O2Ti"


def test_non_finite_results_are_refused_and_nothing_is_written(store):
    bad = Record(atoms=molecule("H2O"), code="x", energy=float("nan"))
    with pytest.raises(StructureError, match="non-finite energy"):
        write_records(store, [full_record(molecule("CH4")), bad])
    assert count(store) == 0


def test_dataset_split_is_stored_and_reproducible(store):
    frames = [molecule("H2O") for _ in range(40)]
    for i, atoms in enumerate(frames):
        atoms.positions[0, 2] += 0.01 * i
    ids = write_records(store, [full_record(a) for a in frames]).calculation_ids
    summary = create_dataset(store, "waters", ids, fractions=(0.5, 0.25, 0.25), seed=7)
    assert summary.sizes == {"train": 20, "validation": 10, "test": 10}
    test_ids = [a.info["esml_id"] for a in query(store, dataset="waters", split="test")]
    expected = [i for i, s in zip(ids, assign_splits(40, (0.5, 0.25, 0.25), 7)) if s == "test"]
    assert sorted(test_ids) == sorted(expected)
    with pytest.raises(StoreError, match="already exists"):
        create_dataset(store, "waters", ids)
    assert count(store, '_esml_dataset HAS "waters"') == 40
    delete_dataset(store, "waters")
    assert list_datasets(store) == [] and count(store) == 40


def test_dataset_from_filter_and_unknown_dataset(store):
    write_records(store, [full_record(molecule("H2O")), full_record(molecule("CH4"))])
    summary = dataset_from_filter(store, "carbon", 'elements HAS "C"', fractions=(1, 0, 0))
    assert summary.sizes["train"] == 1
    with pytest.raises(StoreError, match="no dataset named 'nope'"):
        query(store, dataset="nope")
    with pytest.raises(StoreError, match="matches nothing"):
        dataset_from_filter(store, "none", 'elements HAS "U"')


def test_bad_split_fractions_are_refused():
    with pytest.raises(StoreError, match="summing to 1"):
        assign_splits(10, (0.5, 0.1, 0.1), 0)


def test_store_url_resolution_and_errors(tmp_path, monkeypatch):
    monkeypatch.delenv("ESML_DB", raising=False)
    assert resolve_url(None) == "sqlite:///esml.db"
    monkeypatch.setenv("ESML_DB", str(tmp_path / "a.db"))
    assert resolve_url(None) == f"sqlite:///{tmp_path / 'a.db'}"
    assert resolve_url("postgresql+psycopg://u@h/d").startswith("postgresql")
    with pytest.raises(StoreError, match="does not exist"):
        open_store(str(tmp_path / "missing" / "x.db"))
    with pytest.raises(StoreError, match="cannot open database"):
        open_store("postgresql+psycopg://nobody:secret@127.0.0.1:1/none")
