import json
import os

import numpy as np
import pytest
from ase.build import molecule

from esml.qm import compute, parse_method
from esml.qm.cache import LabelCache, cache_key
from esml.qm.label import label_structures, write_failures

XTB = parse_method("gfn2-xtb")


@pytest.fixture
def cache(tmp_path):
    label_cache = LabelCache(tmp_path / "cache.sqlite")
    yield label_cache
    label_cache.close()


def test_cache_key_ignores_noise_below_resolution_and_sees_everything_else(water):
    key = cache_key(water, XTB, 0, 1, True)
    nudged = water.copy()
    nudged.positions += 2e-7
    assert cache_key(nudged, XTB, 0, 1, True) == key
    moved = water.copy()
    moved.positions[0, 0] += 2e-6
    assert cache_key(moved, XTB, 0, 1, True) != key
    assert cache_key(water, XTB, 1, 2, True) != key
    assert cache_key(water, XTB, 0, 1, False) != key
    assert cache_key(water, parse_method("gfn1-xtb"), 0, 1, True) != key
    assert cache_key(water, parse_method("hf/sto-3g"), 0, 1, True) != cache_key(water, parse_method("hf/sto-3g", max_scf_cycles=50), 0, 1, True)


def test_a_frame_read_back_from_extxyz_hits_the_cache(tmp_path):
    import ase.io

    frames = []
    for index in range(200):  # ~1% of coordinates lie within 5e-9 Å of a 1e-6 boundary
        atoms = molecule("CH3CH2OH")
        atoms.rattle(0.05, seed=index)
        frames.append(atoms)
    ase.io.write(tmp_path / "frames.xyz", frames)
    read_back = ase.io.read(tmp_path / "frames.xyz", ":")
    assert [cache_key(a, XTB, 0, 1, True) for a in read_back] == [cache_key(a, XTB, 0, 1, True) for a in frames]


def test_labels_match_the_engine_and_round_trip_through_the_cache(rattled_waters, cache):
    labeled, report = label_structures(rattled_waters, XTB, cache)
    assert (report.computed, report.cached, report.failures) == (4, 0, [])
    for atoms, original in zip(labeled, rattled_waters):
        direct = compute(original, XTB)
        assert atoms.get_potential_energy() == pytest.approx(direct["energy"], abs=1e-10)
        np.testing.assert_allclose(atoms.get_forces(), direct["forces"], atol=1e-12)
        assert atoms.info["esml_method"] == "gfn2-xtb"
    again, report = label_structures(rattled_waters, XTB, cache)
    assert (report.computed, report.cached) == (0, 4)
    for cached, fresh in zip(again, labeled):  # bit for bit through the cache
        assert cached.get_potential_energy() == fresh.get_potential_energy()
        np.testing.assert_array_equal(cached.get_forces(), fresh.get_forces())
        np.testing.assert_array_equal(cached.get_dipole_moment(), fresh.get_dipole_moment())


def test_an_interrupted_run_resumes_where_it_stopped(rattled_waters, cache):
    label_structures(rattled_waters[:2], XTB, cache)  # the part that finished before the interruption
    _, report = label_structures(rattled_waters, XTB, cache)
    assert (report.computed, report.cached) == (2, 2)


def test_a_repeated_geometry_is_computed_once(rattled_waters, cache):
    frames = [rattled_waters[0], rattled_waters[1], rattled_waters[0].copy()]
    labeled, report = label_structures(frames, XTB, cache)
    assert (report.computed, report.labeled) == (2, 3)
    assert labeled[0].get_potential_energy() == labeled[2].get_potential_energy()


def test_failed_frames_are_reported_and_the_others_kept(rattled_waters, cache, tmp_path):
    frames = list(rattled_waters)
    frames[1] = frames[1].copy()
    frames[1].info["multiplicity"] = 2  # 10 electrons cannot be a doublet
    stubborn = molecule("H2O")
    stubborn.positions[1] += [0, 0, 3.0]  # needs 3 cycles of DIIS + second order; the others 2
    frames.append(stubborn)
    spec = parse_method("hf/sto-3g", max_scf_cycles=2)
    labeled, report = label_structures(frames, spec, cache)
    assert [f.index for f in report.failures] == [1, 4]
    assert "multiplicity 2" in report.failures[0].reason
    assert report.failures[1].reason.startswith("frame 4 (H2O): hf/sto-3g SCF did not converge in 2 cycles, by DIIS nor then")
    assert [a.info["frame"] for a in labeled] == [0, 2, 3]
    path = tmp_path / "out.failures.jsonl"
    write_failures(path, report.failures)
    assert [json.loads(line)["frame"] for line in path.read_text().splitlines()] == [1, 4]
    write_failures(path, [])
    assert not path.exists()


def test_process_pool_gives_the_serial_results(rattled_waters, tmp_path):
    serial, _ = label_structures(rattled_waters, XTB, LabelCache(tmp_path / "a.sqlite"))
    pooled, report = label_structures(rattled_waters, XTB, LabelCache(tmp_path / "b.sqlite"), workers=2)
    assert report.computed == 4
    for a, b in zip(serial, pooled):
        assert a.get_potential_energy() == pytest.approx(b.get_potential_energy(), abs=1e-10)


def test_dask_local_cluster_gives_the_serial_results(rattled_waters, tmp_path):
    from distributed import LocalCluster

    serial, _ = label_structures(rattled_waters, XTB, LabelCache(tmp_path / "a.sqlite"))
    with LocalCluster(n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None) as cluster:
        distributed, report = label_structures(
            rattled_waters, XTB, LabelCache(tmp_path / "b.sqlite"), scheduler=cluster.scheduler_address
        )
    assert report.computed == 4
    for a, b in zip(serial, distributed):
        assert a.get_potential_energy() == pytest.approx(b.get_potential_energy(), abs=1e-10)
        np.testing.assert_allclose(a.get_forces(), b.get_forces(), atol=1e-10)


def test_threads_per_worker_reach_the_engines(rattled_waters, tmp_path, monkeypatch):
    """`esml label --threads 1`: PySCF gets it per call, tblite through OMP_NUM_THREADS before it starts."""
    import esml.qm.label as label

    monkeypatch.setenv("OMP_NUM_THREADS", "2")
    seen, run_task = [], label.run_task
    monkeypatch.setattr(label, "run_task", lambda task: seen.append(task.threads) or run_task(task))
    labeled, _ = label_structures(rattled_waters, parse_method("gfn2-xtb"), LabelCache(tmp_path / "c.sqlite"), threads=1)
    assert len(labeled) == len(seen) == len(rattled_waters) and set(seen) == {1} and os.environ["OMP_NUM_THREADS"] == "1"
