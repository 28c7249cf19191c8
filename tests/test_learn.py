"""`esml learn` with the real GFN2-xTB oracle on ethanol, on settings small enough for seconds."""

import json
import os
import shutil
import sqlite3
import subprocess
from contextlib import contextmanager
from dataclasses import replace
from pathlib import Path

import ase.io
import numpy as np
import pytest
import torch
from ase import Atoms
from ase.build import bulk, molecule
from test_cli import assert_one_line_error, esml

from esml.active import run_files
from esml.active.config import LearnConfig, WalkSettings
from esml.active.descriptors import structure_features
from esml.active.loop import ActiveLearner, Hooks, choose, gaussian_process
from esml.active.walkers import Visit
from esml.calculator import PotentialCalculator
from esml.data.ingest import file_sha256
from esml.data.model_records import model_records
from esml.data.query import SPLITS
from esml.data.store import open_store
from esml.potentials import load_calculator
from esml.potentials.files import load, metadata
from esml.qm.cache import LabelCache
from esml.training.evaluate import evaluate_frames

# walks of 30 fs after a 10 fs warm-up; on a model of a few frames the walkers would run away
# within a few steps at the default 4× the target, leaving too few frames to draw validation from
TINY = LearnConfig(oracle="gfn2-xtb", budget=24, temperatures=(300.0,), walkers_per_temperature=2,
                   walk=WalkSettings(steps=60, equilibration_fs=10.0), batch_size=4, n_seed=3, n_validation=4,
                   runaway_factor=10.0)


def cache_rows(path: Path) -> int:
    with sqlite3.connect(path) as connection:
        return connection.execute("SELECT COUNT(*) FROM labels").fetchone()[0]


def test_tiny_loop_learns_within_its_budget_and_records_everything(tmp_path):
    run = tmp_path / "run"
    learner = ActiveLearner(run, TINY, LabelCache(tmp_path / "labels.sqlite"))
    learner.start(molecule("CH3CH2OH"))
    state = learner.run()
    assert state.status in ("budget", "converged") and state.oracle_calls <= TINY.budget
    report = json.loads((run / "report.json").read_text())
    assert report["oracle_calls"] == state.oracle_calls == len(state.train) + len(state.validation)
    with_validation = [row for row in report["rounds"] if "validation" in row]
    assert with_validation and all(row["validation"]["force_mae"] > 0 for row in with_validation)
    # σ is calibrated so that ±1σ holds the Gaussian share of the validation force errors (4 frames × 27)
    assert report["coverage_1sigma"] == pytest.approx(0.683, abs=0.01) and report["coverage_2sigma"] >= report["coverage_1sigma"]
    assert report["rounds"][-1]["n_train"] == len(state.train)
    assert (run / "learning_curve.png").stat().st_size > 0 and (run / "reliability.png").stat().st_size > 0
    assert load(run / "model.pt").kind == "gp"
    # the saved model carries its σ calibration to its ASE calculator and to esml evaluate
    scale = metadata(run / "model.pt")["calibration_scale"]
    frame = ase.io.read(run / "validation.xyz")
    raw = PotentialCalculator(load(run / "model.pt")).get_property("forces_std", frame)
    np.testing.assert_allclose(load_calculator(run / "model.pt").get_property("forces_std", frame), scale * raw, rtol=1e-12)
    evaluated = esml("evaluate", run / "model.pt", run / "validation.xyz", "--json", tmp_path / "m.json")
    assert evaluated.returncode == 0, evaluated.stderr
    metrics = json.loads((tmp_path / "m.json").read_text())
    assert metrics["sigma_scale"] == pytest.approx(scale) != 1.0
    assert 0 < metrics["force_coverage_1sigma"] <= metrics["force_coverage_2sigma"] <= 1
    assert "calibrated by esml learn" in evaluated.stderr
    reasons = [atoms.info["learn_reason"] for atoms in ase.io.read(run / "train.xyz", ":")]
    assert reasons[:3] == ["seed"] * 3 and set(reasons[3:]) <= {"uncertain"}
    # every oracle call is in the store, in the run's dataset, with its reason
    store = open_store(str(run / "store.sqlite"))
    with store.engine.connect() as connection:
        splits = dict(connection.exec_driver_sql(
            "SELECT split, COUNT(*) FROM dataset_members JOIN datasets ON datasets.id = dataset_id "
            "WHERE datasets.name = 'learn:run' GROUP BY split").fetchall())
        properties = [json.loads(p) if isinstance(p, str) else p
                      for (p,) in connection.exec_driver_sql("SELECT properties FROM calculations").fetchall()]
        members = [i for (i,) in connection.exec_driver_sql("SELECT calculation_id FROM dataset_members").fetchall()]
    assert splits == {"train": len(state.train), "validation": len(state.validation)} and set(splits) <= set(SPLITS)
    assert {p["learn_reason"] for p in properties} >= {"seed", "validation"}
    # every round's model and the saved one, with the calculations each was fitted on
    models = model_records(store, "learn:run/")
    assert [m.name for m in models] == [f"learn:run/round-{k}" for k in range(1, len(state.rounds) + 1)] + ["learn:run/final"]
    assert [len(m.training_ids) for m in models[:-1]] == [row["n_train"] for row in state.rounds]
    assert models[1].record["md"]["frames"] > 0 and "labels" in models[1].record
    assert sorted(models[-1].training_ids) == sorted(members) and len(members) == state.oracle_calls
    assert models[-1].sha256 == file_sha256(run / "model.pt") and models[-1].record["calibration_scale"] == scale
    listed = esml("models", "--db", run / "store.sqlite")
    assert listed.returncode == 0 and "learn:run/final" in listed.stderr and str(run / "model.pt") in listed.stderr, listed.stderr
    dumped = esml("models", "learn:run/final", "--db", run / "store.sqlite", "--json", tmp_path / "models.json")
    assert dumped.returncode == 0, dumped.stderr
    [final] = json.loads((tmp_path / "models.json").read_text())
    assert final["sha256"] == models[-1].sha256 and final["record"]["calibration_scale"] == scale
    # the saved model, fitted on the validation frames too, is measured by 4-fold cross-validation:
    # each fold's validation frames predicted by a model fitted without them
    saved = report["saved_model"]
    assert saved["folds"] == 4 and scale == saved["calibration_scale"] != report["rounds"][-1]["validation"]["calibration_scale"]
    length_scale = gaussian_process(load(run / "model.pt")).length_scale
    fold_errors = []
    for fold in range(4):
        model = learner.fit(state.train + [f for k, f in enumerate(state.validation) if k % 4 != fold], length_scale=length_scale)
        fold_errors.append(evaluate_frames(model, state.validation[fold::4]).force_errors)
    # the loop measures errors with the same function: equal to rounding
    assert saved["force_mae"] == pytest.approx(np.abs(np.concatenate(fold_errors)).mean(), rel=1e-12)
    assert run_files.load_state(run).saved_model == saved  # kept in state.json: --resume still knows it


def test_a_validation_set_drawn_again_sends_the_old_frames_to_training(tmp_path):
    """Once the training set has grown enough, the validation frames come again from the current
    model's MD; the old ones, labeled once, become training frames, in the files and the store."""
    run = tmp_path / "run"
    # room for two draws whenever the first comes: walkers that run away early delay it (xTB threading decides)
    learner = ActiveLearner(run, replace(TINY, budget=48, validation_refresh=1.2), LabelCache(tmp_path / "labels.sqlite"))
    learner.start(molecule("CH3CH2OH"))
    state = learner.run()
    draws = [row for row in state.rounds if row.get("validation_drawn")]
    assert len(draws) >= 2
    assert state.oracle_calls == len(state.train) + len(state.validation)
    retired = [atoms for atoms in ase.io.read(run / "train.xyz", ":") if atoms.info["learn_reason"] == "validation"]
    assert len(retired) >= TINY.n_validation
    current = {atoms.positions.tobytes() for atoms in ase.io.read(run / "validation.xyz", ":")}
    assert current and not current & {atoms.positions.tobytes() for atoms in ase.io.read(run / "train.xyz", ":")}
    assert all(atoms.info["learn_round"] == draws[-1]["round"] for atoms in ase.io.read(run / "validation.xyz", ":"))
    with open_store(str(run / "store.sqlite")).engine.connect() as connection:
        splits = dict(connection.exec_driver_sql("SELECT split, COUNT(*) FROM dataset_members GROUP BY split").fetchall())
    assert splits == {"train": len(state.train), "validation": len(state.validation)}


def test_a_killed_run_resumes_without_repeating_an_oracle_call(tmp_path):
    """Killed in the middle of labeling a batch: the resumed run labels the rest of that batch,
    and the cache shows every geometry computed exactly once."""
    cache_path = tmp_path / "labels.sqlite"
    calls = {"n": 0}

    @contextmanager
    def dying_progress(total, text):
        def advance(n):
            if text.startswith("uncertain"):
                calls["n"] += n
                if calls["n"] == 2:
                    raise KeyboardInterrupt  # the second frame of the first batch is in the cache
        yield advance

    run = tmp_path / "run"
    learner = ActiveLearner(run, TINY, LabelCache(cache_path), Hooks(progress=dying_progress))
    learner.start(molecule("CH3CH2OH"))
    with pytest.raises(KeyboardInterrupt):
        learner.run()
    assert (run / "pending.xyz").exists()
    before = cache_rows(cache_path)

    resumed = ActiveLearner(run, TINY, LabelCache(cache_path))
    resumed.resume()
    state = resumed.run()
    first_batch = state.rounds[-1]["labels"] if len(state.rounds) == 1 else next(r["labels"] for r in state.rounds if "labels" in r)
    assert first_batch["cached"] >= 2  # what the killed run computed came back from the cache
    assert cache_rows(cache_path) == len(state.train) + len(state.validation) == state.oracle_calls
    assert before >= 2 + TINY.n_seed


def test_the_loop_sends_its_oracle_calls_to_a_dask_cluster(tmp_path):
    from distributed import LocalCluster

    with LocalCluster(n_workers=1, threads_per_worker=1, processes=True, dashboard_address=None) as cluster:
        config = replace(TINY, budget=8, scheduler=cluster.scheduler_address)
        learner = ActiveLearner(tmp_path / "run", config, LabelCache(tmp_path / "labels.sqlite"))
        learner.start(molecule("CH3CH2OH"))
        state = learner.run()
    assert state.oracle_calls == 8 and len(state.train) + len(state.validation) == 8
    assert cache_rows(tmp_path / "labels.sqlite") == 8


def test_selection_takes_each_frame_at_most_once_and_only_over_the_threshold():
    frames = []
    for seed in range(12):
        atoms = molecule("CH3CH2OH")
        atoms.rattle(0.1, seed=seed)
        frames.append(atoms)
    visits = [Visit(atoms, 0, 300.0, score=0.01 * k) for k, atoms in enumerate(frames)]
    covered = structure_features(frames[:1], [1, 6, 8])
    picked = choose(visits, threshold=0.055, count=10, covered=covered, species=[1, 6, 8])
    assert len(picked) == 6 and len({id(v) for v in picked}) == 6 and all(v.score > 0.055 for v in picked)


def test_learn_command_writes_a_report_and_stops_with_status_1_when_the_budget_is_too_small(tmp_path):
    start = tmp_path / "ethanol.xyz"
    ase.io.write(start, molecule("CH3CH2OH"))
    out = tmp_path / "run"
    common = ["--cache", tmp_path / "labels.sqlite", "--out", out, "-q"]
    run = esml("learn", start, "--oracle", "gfn2-xtb", "--budget", "10", "--steps", "40", "--walkers", "1",
               "--validation", "4", "--batch", "3", "--inducing", "30", *common)
    assert run.returncode == 1, run.stderr
    assert "not reached within the budget of 10" in run.stderr and "--resume" in run.stderr
    assert json.loads((out / "report.json").read_text())["status"] == "budget"
    assert torch.bincount(load(out / "model.pt").inducing_species).max() == 30  # per element
    more = esml("learn", "--resume", "--budget", "13", "--inducing", "40", *common)
    assert more.returncode in (0, 1), more.stderr
    assert 10 < json.loads((out / "report.json").read_text())["oracle_calls"] <= 13
    assert json.loads((out / "state.json").read_text())["config"]["gp"]["max_inducing"] == 40
    assert_one_line_error(esml("learn", start, *common), "already holds a run", "--resume")


def test_learn_command_refuses_bad_input_in_one_line(tmp_path):
    start = tmp_path / "ethanol.xyz"
    ase.io.write(start, molecule("CH3CH2OH"))
    out = tmp_path / "run"
    assert_one_line_error(esml("learn", start, "--oracle", "nosuchxc/sto-3g", "--out", out, "-q"), "nosuchxc")
    assert_one_line_error(esml("learn", start, "--oracle", "b3lyp", "--out", out, "-q"), "not understood")
    assert_one_line_error(esml("learn", start, "--temperature", "hot", "--out", out, "-q"), "--temperature")
    assert_one_line_error(esml("learn", start, "--validation-refresh", "0.5", "--out", out, "-q"), "--validation-refresh")
    assert_one_line_error(esml("learn", start, "--oracle", "pbe/def2-svp", "--baseline", "xtb", "--out", out, "-q"), "not understood")
    assert_one_line_error(esml("learn", tmp_path / "missing.xyz", "--out", out, "-q"), "no such file")
    assert_one_line_error(esml("learn", "--resume", "--out", tmp_path / "none", "-q"), "no run to resume")
    radical = tmp_path / "oh.xyz"
    oh = Atoms("OH", positions=[[0, 0, 0], [0, 0, 0.97]])
    oh.info["multiplicity"] = 1
    ase.io.write(radical, oh, format="extxyz")
    assert_one_line_error(esml("learn", radical, "--out", tmp_path / "oh", "--cache", tmp_path / "c.sqlite", "-q"),
                          "could not label the start structure", "multiplicity")
    # nothing was learned there, so the corrected command starts in the same folder
    oh.info["multiplicity"] = 2
    ase.io.write(radical, oh, format="extxyz")
    again = esml("learn", radical, "--out", tmp_path / "oh", "--cache", tmp_path / "c.sqlite", "--budget", "6",
                 "--temperature", "300", "--walkers", "1", "--steps", "10", "-q")
    assert again.returncode == 1 and "budget of 6 oracle calls" in again.stderr, again.stderr
    # a budget the seed and validation frames alone would spend is refused before any oracle call
    assert_one_line_error(esml("learn", radical, "--out", tmp_path / "oh2", "--budget", "3", "-q"), "--budget 3 leaves no room")
    # a basis PySCF does not know, or one without an element of the start, fails before any oracle call
    assert_one_line_error(esml("learn", start, "--oracle", "pbe/def2-svpx", "--out", out, "-q"), "basis 'def2-svpx'")
    iodine = tmp_path / "hi.xyz"
    ase.io.write(iodine, Atoms("HI", positions=[[0, 0, 0], [0, 0, 1.61]]))
    assert_one_line_error(esml("learn", iodine, "--oracle", "hf/6-31g", "--out", out, "-q"), "no functions for I")
    cell = tmp_path / "si.xyz"
    ase.io.write(cell, bulk("Si", "diamond", a=5.43))
    assert_one_line_error(esml("learn", cell, "--oracle", "pbe/def2-svp", "--out", out, "-q"), "periodic", "gfn2-xtb")
    assert not out.exists()


def chromium() -> str | None:
    return shutil.which("chromium") or shutil.which("chromium-browser")


@pytest.mark.skipif(chromium() is None and not os.environ.get("ESML_REQUIRE_BROWSER"),
                    reason="headless Chromium is not installed (CI installs it)")
def test_html_report_renders_in_headless_chromium_with_its_plots(tmp_path):
    run = tmp_path / "run"
    learner = ActiveLearner(run, TINY, LabelCache(tmp_path / "labels.sqlite"))
    learner.start(molecule("CH3CH2OH"))
    learner.run()
    page = (run / "report.html").as_uri()
    browser = [chromium(), "--headless", "--no-sandbox", "--disable-gpu", "--allow-file-access-from-files"]
    # the page's own check: both plots decoded (naturalWidth > 0) before the DOM is dumped
    probe = run / "probe.html"
    probe.write_text((run / "report.html").read_text().replace(
        "</body>", "<script>window.addEventListener('load', () => { document.body.dataset.images = "
        "[...document.images].filter(i => i.complete && i.naturalWidth > 0).length; });</script></body>"))
    dom = subprocess.run([*browser, "--virtual-time-budget=5000", "--dump-dom", probe.as_uri()],
                         capture_output=True, text=True, timeout=120).stdout
    assert 'data-images="2"' in dom
    assert "oracle calls" in dom and "validation force MAE" in dom and "<td>1</td>" in dom
    shot = tmp_path / "page.png"
    subprocess.run([*browser, f"--screenshot={shot}", "--window-size=1000,900", page], capture_output=True, timeout=120)
    assert shot.stat().st_size > 10_000


def test_a_walker_sent_back_to_its_start_draws_momenta_again_and_counts_its_warm_up(ethanol_frames):
    from ase.optimize import BFGS
    from ase.units import kB

    from esml.active.walkers import explore, start_walkers
    from esml.calculator import PotentialCalculator
    from esml.simulate.dynamics import bonds
    from esml.training.config import GPConfig
    from esml.training.gp import fit_gaussian_process

    calculator = PotentialCalculator(fit_gaussian_process(ethanol_frames[:20], GPConfig(length_scales=(8.0,))))
    start = molecule("CH3CH2OH")
    start.calc = calculator
    BFGS(start, logfile=None).run(fmax=0.01)  # at the model's minimum, a walker at rest stays at rest
    walker = start_walkers(start, [300.0], 1)[0]
    settings = WalkSettings(steps=4, interval=1, equilibration_fs=1.0)  # a frame every 0.5 fs
    walk = lambda threshold, runaway: explore(walker, calculator, settings, 0, lambda sigma: float(sigma.mean()),
                                              threshold, runaway, bonds(start))
    assert walk(threshold=0.0, runaway=0.0).ran_away  # nothing trusted: back to the start, at rest
    assert walker.warm_fs == 0.0 and not walker.atoms.get_momenta().any()
    visits = walk(threshold=1e9, runaway=1e9).visits
    assert walker.warm_fs == 2.0 and [v.equilibrated for v in visits] == [False, True, True, True]
    # one step after fresh 300 K momenta; from rest it would be a few kelvin
    assert visits[0].atoms.get_kinetic_energy() / (1.5 * kB * len(start)) > 150.0


def test_the_run_folder_keeps_the_walkers_warm_up_and_the_status(tmp_path):
    from esml.active import run_files
    from esml.active.walkers import start_walkers

    state = run_files.RunState(config=TINY.to_json(), species=[1, 6, 8], status=run_files.Status.BUDGET)
    state.walkers = start_walkers(molecule("CH3CH2OH"), [300.0, 600.0], 1)
    state.walkers[0].warm_fs, state.walkers[0].trusted_warm_fs = 250.0, 120.0
    run_files.save_state(tmp_path, state)
    assert json.loads((tmp_path / "state.json").read_text())["status"] == "budget"
    again = run_files.load_state(tmp_path)
    assert again.status is run_files.Status.BUDGET
    assert [(w.warm_fs, w.trusted_warm_fs) for w in again.walkers] == [(250.0, 120.0), (0.0, 0.0)]


def test_a_torn_or_squeezed_molecule_is_recognised_as_broken():
    from esml.simulate.dynamics import bonds, bonds_intact

    start = molecule("CH3CH2OH")
    reference = bonds(start)
    warm = start.copy()
    warm.rattle(0.05, seed=1)
    assert bonds_intact(warm, reference)
    torn = start.copy()
    carbon, hydrogen = next((i, j) for i, j in sorted(reference) if {torn[i].symbol, torn[j].symbol} == {"C", "H"})
    torn.positions[hydrogen] += 1.5 * (torn.positions[hydrogen] - torn.positions[carbon])
    assert not bonds_intact(torn, reference)
    squeezed = start.copy()
    h1, h2 = [a.index for a in squeezed if a.symbol == "H"][:2]
    squeezed.positions[h2] = squeezed.positions[h1] + [0.5, 0.0, 0.0]
    assert not bonds_intact(squeezed, reference)
    crushed = start.copy()
    carbon, hydrogen = next((i, j) for i, j in sorted(reference) if {crushed[i].symbol, crushed[j].symbol} == {"C", "H"})
    crushed.positions[hydrogen] = crushed.positions[carbon] + 0.45 * (crushed.positions[hydrogen] - crushed.positions[carbon])
    assert not bonds_intact(crushed, reference)  # a bond squeezed to 0.5 Å
