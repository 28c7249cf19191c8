"""Kernel models of molecular properties: the kernel equals qmllib's, predictions do not depend on
orientation, position or atom order, the learning curve is reproducible, bad input is refused in
one line."""

import json
import re

import ase.io
import numpy as np
import pytest
from ase import Atoms
from ase.build import bulk, molecule
from scipy.spatial.transform import Rotation
from typer.testing import CliRunner

from esml.cli.main import app
from esml.data.bundled import QM7_FILE, import_bundled
from esml.properties.kernels import kernel
from esml.properties.krr import KRRConfig, fit_krr, fit_krr_targets, predict
from esml.properties.representations import NAMES, PropertyError, featurize, fit_layout

QM7 = ase.io.read(QM7_FILE, ":120")
Y = np.array([atoms.info["hof_col1_kcal_mol"] for atoms in QM7])
SMALL = KRRConfig(folds=3, sigma_factors=(1.0, 4.0), lambdas=(1e-8, 1e-4))


def test_local_kernel_equals_qmllibs():
    from qmllib.kernels import get_local_kernel
    from qmllib.representations import generate_fchl19

    frames = QM7[:16]
    layout = fit_layout("fchl19", frames)
    features = featurize(layout, frames)
    ours = kernel(features, features, [2.5], "gaussian")[0]
    padded = np.array([generate_fchl19(a.numbers, a.positions, elements=list(layout.elements), pad=layout.size)
                       for a in frames])
    charges = [a.numbers for a in frames]
    theirs = get_local_kernel(padded[:8], padded[8:], charges[:8], charges[8:], 2.5)  # rows: the second set
    assert np.allclose(ours[:8, 8:].T, theirs, rtol=1e-10, atol=1e-10)


def moved(atoms: Atoms, seed: int) -> Atoms:
    """Rotated, translated and with its atoms in another order."""
    rng = np.random.default_rng(seed)
    order = rng.permutation(len(atoms))
    other = Atoms(numbers=atoms.numbers[order], positions=atoms.positions[order])
    other.positions = Rotation.random(random_state=seed).apply(other.positions) + rng.normal(size=3) * 5
    return other


@pytest.mark.parametrize("representation", NAMES)
def test_predictions_do_not_depend_on_orientation_position_or_order(representation):
    from dataclasses import replace

    originals = QM7[100:104]
    model = fit_krr(QM7[:60], Y[:60], extensive=True, config=replace(SMALL, representation=representation),
                    also_for=originals)
    before, _ = predict(model, originals)
    after, _ = predict(model, [moved(atoms, seed) for seed, atoms in enumerate(originals)])
    assert np.allclose(before, after, rtol=1e-7, atol=1e-6)


def test_uncertainty_is_small_on_training_molecules_and_large_far_away():
    model = fit_krr(QM7[:80], Y[:80], extensive=True, config=SMALL)
    stretched = QM7[0].copy()
    stretched.positions *= 1.6
    _, std = predict(model, [QM7[0], QM7[100], stretched], with_std=True)
    assert std[0] < std[1] < std[2]


def test_targets_fitted_together_equal_separate_fits():
    """Three targets, two sharing a σ (a scaled copy chooses the same σ and λ): the shared kernel
    pass, the copy for the first user of a σ and the in-place factor of the last give the same models."""
    frames, y = QM7[:60], Y[:60]
    sizes = np.array([len(atoms) for atoms in frames], dtype=float)
    targets = [(y, True), (2.0 * y, True), (sizes**2, False)]
    together = fit_krr_targets(frames, targets, SMALL)
    assert together[0].sigma == together[1].sigma
    for model, (values, extensive) in zip(together, targets):
        alone = fit_krr(frames, values, extensive, SMALL)
        assert model.sigma == alone.sigma and model.lam == alone.lam
        np.testing.assert_allclose(model.alpha, alone.alpha, rtol=1e-8, atol=1e-10)
        np.testing.assert_allclose(predict(model, QM7[100:110])[0], predict(alone, QM7[100:110])[0], rtol=1e-8)


def test_bad_molecules_are_refused_in_one_line():
    model = fit_krr(QM7[:30], Y[:30], extensive=True, config=SMALL)
    with pytest.raises(PropertyError, match="holds Si, which the model never saw"):
        predict(model, [molecule("SiH4")])
    with pytest.raises(PropertyError, match="2000 atoms; the kernel models take molecules of at most 100"):
        predict(model, [Atoms("H2000", positions=np.random.default_rng(0).normal(size=(2000, 3)) * 20)])
    with pytest.raises(PropertyError, match="periodic"):
        predict(model, [bulk("C")])
    with pytest.raises(PropertyError, match="no molecules given"):
        predict(model, [])


@pytest.fixture
def qm7_store(sqlite_store):
    import_bundled(sqlite_store, "qm7", limit=400)  # dataset qm7-400: 320 train, 40 validation, 40 test
    return sqlite_store


def invoke(*args):
    return CliRunner().invoke(app, list(args))


def test_learning_curve_reproduces_its_numbers(qm7_store, tmp_path):
    url = str(qm7_store.engine.url)
    runs = []
    for name in ("first", "second"):
        out = tmp_path / f"{name}.json"
        result = invoke("learning-curve", "--dataset", "qm7-400", "--target", "atomization", "--n-train", "40,160",
                        "--db", url, "--json", str(out))
        assert result.exit_code == 0, result.output
        runs.append(json.loads(out.read_text()))
        assert out.with_suffix(".png").stat().st_size > 5000
    points = runs[0]["points"]
    assert [p["n_train"] for p in points] == [40, 160] and {p["unit"] for p in points} == {"kcal/mol"}
    assert points[1]["mae"] < points[0]["mae"] < 20 and all(p["seconds"] > 0 for p in points)
    assert [p["mae"] for p in points] == [p["mae"] for p in runs[1]["points"]]


def test_fit_then_predict_from_the_command_line(qm7_store, tmp_path):
    url = str(qm7_store.engine.url)
    model = tmp_path / "model.npz"
    result = invoke("fit-property", "--dataset", "qm7-400", "--target", "atomization", "--model", "krr-bob",
                    "--n-train", "100", "--db", url, "--out", str(model))
    assert result.exit_code == 0, result.output
    # the cross-validated and the test MAE in the same unit, and of the same size
    cv_mae, test_mae = map(float, re.search(r"cross-validated MAE (\S+) kcal/mol; test MAE (\S+) kcal/mol", result.output).groups())
    assert 0.3 < cv_mae / test_mae < 3
    molecules = tmp_path / "molecules.xyz"
    ase.io.write(molecules, QM7[110:113])
    out = tmp_path / "predicted.json"
    result = invoke("predict", str(model), str(molecules), "-o", str(out))
    assert result.exit_code == 0, result.output
    rows = json.loads(out.read_text())
    reference = [atoms.info["hof_col1_kcal_mol"] for atoms in QM7[110:113]]
    assert len(rows) == 3 and all(row["std"] > 0 and row["unit"] == "kcal/mol" for row in rows)
    assert np.abs(np.array([row["atomization"] for row in rows]) - reference).mean() < 30


@pytest.mark.parametrize("args, message", [
    (["fit-property", "--dataset", "qm7", "--target", "atomization"], "no dataset named 'qm7'"),
    (["fit-property", "--dataset", "qm7-400", "--target", "gap"], "qm7 has no target 'gap'"),
    (["fit-property", "--dataset", "qm7-400", "--target", "atomization", "--model", "krr-soap"], "unknown model"),
    (["learning-curve", "--dataset", "qm7-400", "--target", "atomization", "--n-train", "10,x"], "comma-separated"),
    (["fit-property", "--dataset", "qm7-400", "--target", "atomization", "--n-train", "1000"], "fewer than the 1000"),
])
def test_bad_requests_say_what_to_do(qm7_store, args, message):
    from esml.errors import EsmlError

    result = invoke(*args, "--db", str(qm7_store.engine.url))
    assert result.exit_code != 0 and isinstance(result.exception, EsmlError)
    assert message in str(result.exception)


def test_predict_refuses_an_empty_file_and_a_non_model(tmp_path):
    from esml.properties.krr import save

    model = fit_krr(QM7[:20], Y[:20], extensive=True, config=SMALL)
    model.target = {"name": "atomization", "unit": "kcal/mol", "factor": 1.0}
    save(model, tmp_path / "model.npz")
    empty = tmp_path / "empty.xyz"
    empty.write_text("")
    result = invoke("predict", str(tmp_path / "model.npz"), str(empty))
    assert result.exit_code != 0 and "empty.xyz" in str(result.exception)
    not_a_model = tmp_path / "other.npz"
    not_a_model.write_text("hello")
    result = invoke("predict", str(not_a_model), str(empty))
    assert result.exit_code != 0 and "not an esml property model" in str(result.exception)


def test_split_frames_fetches_only_the_chosen_molecules_in_the_shuffled_order(qm7_store):
    from esml.data.query import query
    from esml.properties.targets import split_frames

    whole = query(qm7_store, dataset="qm7-400", split="train")
    order = np.random.default_rng(3).permutation(len(whole))
    chosen = split_frames(qm7_store, "qm7-400", "train", 25, seed=3)
    assert [a.info["esml_id"] for a in chosen] == [whole[i].info["esml_id"] for i in order[:25]]
    assert chosen[0] == whole[order[0]] and chosen[0].info == whole[order[0]].info
    assert len(split_frames(qm7_store, "qm7-400", "test", None, seed=0)) == 40
