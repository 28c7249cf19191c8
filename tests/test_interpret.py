"""Symbolic regression: the feature space, SISSO's search, class domains, gplearn, and `esml sisso`."""

from __future__ import annotations

import itertools
import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from esml.interpret import domains
from esml.interpret.feature_space import FeatureSpaceError, build_feature_space
from esml.interpret.sisso import SissoConfig, best_subset, cross_validate, fit_sisso, predict


def planted(n: int = 60, noise: float = 0.01, seed: int = 0):
    generator = np.random.default_rng(seed)
    x = generator.uniform(1.0, 3.0, size=(n, 3))
    return x, x[:, 0] ** 2 / x[:, 1] + generator.normal(0.0, noise, n)


def test_sisso_finds_the_planted_formula():
    x, y = planted()
    space = build_feature_space(x, ["x1", "x2", "x3"], rung=2)
    descriptor = fit_sisso(space, y, SissoConfig(dimension=1, n_sis=20))[0]
    assert descriptor.formulas == ("((x1)^2 / x2)",)
    assert descriptor.coefficients[0] == pytest.approx(1.0, abs=0.01)
    assert descriptor.intercept == pytest.approx(0.0, abs=0.02)
    assert descriptor.score < 0.012
    fresh, truth = planted(n=20, noise=0.0, seed=1)
    assert np.abs(predict(space, descriptor, fresh) - truth).max() < 0.05


def test_cross_validation_reruns_the_search_and_sees_only_the_noise():
    x, y = planted(noise=0.05)
    space = build_feature_space(x, ["x1", "x2", "x3"], rung=2)
    rmse_cv, = cross_validate(space, y, x, SissoConfig(dimension=1, n_sis=20, cv_repeats=5))
    assert 0.02 < rmse_cv < 0.1


def test_feature_space_respects_units_and_rebuilds_each_feature():
    x, _ = planted()
    space = build_feature_space(x, ["e1", "e2", "r"], ["eV", "eV", "Å"], rung=2)
    formulas = [space.expression(k) for k in range(len(space))]
    assert "(e1 + e2)" in formulas and "(e1 / r)" in formulas
    assert not any(f in formulas for f in ("(e1 + r)", "(e2 - r)", "|e1 - r|"))
    for k in np.random.default_rng(0).choice(len(space), 50, replace=False):
        np.testing.assert_allclose(space.evaluate(k, x), space.values[k])
    assert np.isfinite(space.values).all()
    assert np.abs(space.values).max(axis=1).max() <= 1e5


def test_feature_space_refuses_bad_input():
    x, _ = planted()
    with pytest.raises(FeatureSpaceError, match="units for"):
        build_feature_space(x, ["a", "b", "c"], ["eV"], rung=1)
    with pytest.raises(FeatureSpaceError, match="unknown operator"):
        build_feature_space(x, ["a", "b", "c"], rung=1, operators=("sin",))
    with pytest.raises(FeatureSpaceError, match="non-finite"):
        build_feature_space(np.where(x > 2.9, np.nan, x), ["a", "b", "c"], rung=1)


@pytest.mark.parametrize("size", [1, 2, 3])
def test_best_subset_equals_brute_force_least_squares(size):
    generator = np.random.default_rng(size)
    pool = generator.normal(size=(9, 30))
    target = pool[2] - 0.5 * pool[5] + 0.3 * pool[7] + generator.normal(0, 0.5, 30)

    def error(subset):
        design = np.column_stack([np.ones(30), pool[list(subset)].T])
        return np.sum((design @ np.linalg.lstsq(design, target, rcond=None)[0] - target) ** 2)

    brute = min(itertools.combinations(range(9), size), key=error)
    assert best_subset(pool, target, size) == brute


def test_class_domains_count_overlap_and_measure_it():
    labels = np.array([0, 0, 0, 1, 1, 1])
    apart = np.array([[0.0], [1.0], [2.0], [3.0], [4.0], [5.0]])
    assert domains.overlap_count(apart, labels) == 0
    mixed = np.array([[0.0], [1.0], [3.5], [3.0], [4.0], [5.0]])
    assert domains.overlapping(mixed, labels).tolist() == [False, False, True, True, False, False]
    square = np.array([[0, 0], [1, 0], [1, 1], [0, 1]], dtype=float)
    assert domains._area(domains._clip(domains._hull(square), domains._hull(square + 0.5))) == pytest.approx(0.25)
    plane = np.vstack([square, square + [2.0, 0.0]])
    assert domains.score(plane, np.repeat([0, 1], 4)) == (0, pytest.approx(-1.0 / plane.std(axis=0)[0]))
    assert domains.nearest_domain(plane, np.repeat([0, 1], 4), np.array([[0.2, 0.5], [2.9, 0.1]])).tolist() == [0, 1]


def test_sisso_classification_separates_a_planted_boundary():
    generator = np.random.default_rng(3)
    x = generator.uniform(1.0, 3.0, size=(50, 3))
    labels = (x[:, 0] - x[:, 1] * x[:, 2] > -3.0).astype(int)
    space = build_feature_space(x, ["x1", "x2", "x3"], rung=1)
    one, two = fit_sisso(space, labels, SissoConfig(dimension=2, n_sis=10, classify=True))
    # x1 - x2*x3 is rung 2: no rung-1 feature separates alone, but the plane (x1, x2*x3) does.
    assert one.score > 0 and two.score == 0
    with pytest.raises(FeatureSpaceError, match="at most 2 dimensions"):
        fit_sisso(space, labels, SissoConfig(dimension=3, n_sis=5, classify=True))


def test_gplearn_evolves_the_planted_formula():
    from esml.interpret.genetic import GeneticConfig, fit_genetic

    x, y = planted(n=100, noise=0.0)
    model = fit_genetic(x, y, ["x1", "x2", "x3"], GeneticConfig(population=500, generations=10))
    fresh, truth = planted(n=20, noise=0.0, seed=1)
    np.testing.assert_allclose(model.predict(fresh), truth, rtol=1e-6)


def _esml(*args, cwd):
    esml = str(Path(sys.executable).with_name("esml"))  # the installed console script, errors and all
    return subprocess.run([esml, *args], capture_output=True, text=True, cwd=cwd)


@pytest.fixture
def table(tmp_path):
    x, y = planted()
    rows = ["x1,x2,x3,y,phase"] + [f"{a},{b},{c},{t},{'high' if t > 2 else 'low'}" for (a, b, c), t in zip(x, y)]
    path = tmp_path / "data.csv"
    path.write_text("\n".join(rows) + "\n")
    return path


def test_sisso_command_writes_formula_errors_and_plot(table, tmp_path):
    result = _esml("sisso", str(table), "--target", "y", "--features", "x1,x2,x3", "--dimension", "2",
                   "--n-sis", "20", "--cv-repeats", "3", "--json", "out.json", "--plot", "map.png", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    report = json.loads((tmp_path / "out.json").read_text())
    assert {"formula", "coefficients", "rmse_train", "rmse_cv"} <= report.keys()
    assert report["descriptors"][0]["features"] == ["((x1)^2 / x2)"]
    assert report["rmse_train"] < 0.012 and report["rmse_cv"] < 0.05
    assert (tmp_path / "map.png").stat().st_size > 10_000
    classified = _esml("sisso", str(table), "--target", "phase", "--features", "x1,x2,x3", "--classify",
                       "--dimension", "1", "--cv-repeats", "2", "--json", "classes.json", cwd=tmp_path)
    assert classified.returncode == 0, classified.stderr
    assert json.loads((tmp_path / "classes.json").read_text())["overlap_train"] == 0


@pytest.mark.parametrize("args, message", [
    (["--target", "z", "--features", "x1,x2"], "column(s) z not in"),
    (["--target", "y", "--features", "x1,x2", "--units", "eV"], "1 units for 2 features"),
    (["--target", "y", "--features", "x1,x2", "--classify"], "needs class labels"),
    (["--target", "y", "--features", "x1,phase"], "hold empty or non-numeric values"),
])
def test_sisso_command_explains_bad_input_in_one_line(table, tmp_path, args, message):
    result = _esml("sisso", str(table), *args, cwd=tmp_path)
    assert result.returncode == 2
    assert message in result.stderr and len(result.stderr.strip().splitlines()) == 1


def test_site_energies_sum_to_the_calculators_energy():
    import torch
    from ase.build import bulk

    from esml.calculator import PotentialCalculator
    from esml.potentials import CGCNNPotential
    from esml.potentials.attribution import site_energies

    torch.manual_seed(0)
    potential = CGCNNPotential([6, 14], features=8, layers=2, n_basis=8, self_energies=[-150.0, -100.0])
    for parameter in potential.parameters():
        torch.nn.init.normal_(parameter, std=0.1)
    crystal = bulk("SiC", "zincblende", a=4.36).repeat(2)
    crystal.rattle(0.05, seed=2)
    energies, relative = site_energies(potential, crystal)
    crystal.calc = PotentialCalculator(potential, dtype=torch.float64)
    assert energies.sum() == pytest.approx(crystal.get_potential_energy(), abs=1e-8)
    np.testing.assert_allclose(energies - relative, np.where(crystal.numbers == 6, -150.0, -100.0))
    assert np.ptp(relative) > 0  # rattled: sites differ
