"""The 3D Anderson model, its level statistics and transfer matrices, the localisation network and
finite-size scaling."""

import functools

import numpy as np
import pytest
import scipy.sparse

from esml.disorder import anderson
from esml.disorder.anderson import hamiltonian, levels_near, realisation_ratios, spacing_ratios
from esml.disorder.classifier import blocks, realisation_outputs, train_classifier
from esml.disorder.config import GOE_RATIO, POISSON_RATIO, AndersonStudy
from esml.disorder.sampling import Point, load_point, sample
from esml.disorder.scaling import Estimate, fit_scaling, weighted_estimate
from esml.disorder.study import run_study
from esml.disorder.transfer import bar_realisation, segment_exponents, slice_hopping
from esml.errors import EsmlError


def test_the_clean_lattice_has_the_tight_binding_band():
    levels = np.linalg.eigvalsh(hamiltonian(4, 0.0, np.random.default_rng(0)).toarray())
    k = 2 * np.pi * np.arange(4) / 4
    band = -2 * (np.cos(k)[:, None, None] + np.cos(k)[None, :, None] + np.cos(k)[None, None, :])
    assert np.allclose(levels, np.sort(band.ravel()))


def test_the_hamiltonian_is_symmetric_with_six_neighbours_and_box_disorder():
    matrix = hamiltonian(5, 10.0, np.random.default_rng(1))
    assert abs(matrix - matrix.T).max() == 0
    onsite = matrix.diagonal()
    assert onsite.min() >= -5 and onsite.max() <= 5 and onsite.std() > 2
    off = matrix - scipy.sparse.diags(onsite)
    assert np.allclose(np.asarray(off.sum(axis=1)).ravel(), -6) and (off != 0).sum(axis=1).max() == 6


@pytest.mark.parametrize("dense_up_to", [anderson.DENSE_UP_TO, 0])
def test_levels_near_an_energy_match_dense_diagonalisation(monkeypatch, dense_up_to):
    monkeypatch.setattr(anderson, "DENSE_UP_TO", dense_up_to)  # 0: the shift-invert path
    matrix = hamiltonian(7, 16.5, np.random.default_rng(2))
    every = np.linalg.eigvalsh(matrix.toarray())
    for energy, half_width in ((0.0, 1.0), (2.0, 0.5)):
        found = levels_near(matrix, energy, half_width)
        expected = every[np.abs(every - energy) <= half_width]
        assert len(found) == len(expected) and np.allclose(found, expected, atol=1e-9)


def test_spacing_ratios_of_poisson_and_goe_levels():
    rng = np.random.default_rng(3)
    poisson = spacing_ratios(rng.uniform(0, 1, 20000))
    goe = np.concatenate([spacing_ratios(np.linalg.eigvalsh((a + a.T) / 2)[100:300])
                          for a in (rng.normal(size=(400, 400)) for _ in range(10))])
    assert abs(poisson.mean() - POISSON_RATIO) < 0.01 and abs(goe.mean() - GOE_RATIO) < 0.01
    assert poisson.min() >= 0 and poisson.max() <= 1


def test_weak_and_strong_disorder_give_goe_and_poisson_statistics():
    weak = np.concatenate([realisation_ratios(10, 6.0, i, 0) for i in range(4)])
    strong = np.concatenate([realisation_ratios(10, 40.0, i, 0) for i in range(20)])
    assert abs(weak.mean() - GOE_RATIO) < 0.02 and abs(strong.mean() - POISSON_RATIO) < 0.02


def test_a_realisation_is_fixed_by_its_seed_and_index_alone():
    first = realisation_ratios(6, 16.0, 3, seed=7)
    assert np.array_equal(first, realisation_ratios(6, 16.0, 3, seed=7))
    assert not np.array_equal(first, realisation_ratios(6, 16.0, 4, seed=7))
    assert not np.array_equal(first, realisation_ratios(6, 16.0, 3, seed=8))


def test_sampling_resumes_from_its_cache_and_does_not_depend_on_workers(tmp_path):
    compute = functools.partial(realisation_ratios, seed=1)
    points = [Point(6, 16.0, 3), Point(7, 12.0, 2)]
    one = sample(points, tmp_path / "one", compute)
    progress = []
    grown = [Point(6, 16.0, 5), Point(7, 12.0, 2)]
    two = sample(grown, tmp_path / "one", compute, workers=2, on_progress=lambda done, total: progress.append(done))
    assert progress[0] == 5 and progress[-1] == 7  # 5 realisations came from the cache, 2 were computed
    fresh = sample(grown, tmp_path / "two", compute, workers=2)
    for point, again in zip(points, grown):
        stored = dict(zip(two[again].indices, two[again].values))
        for index, ratios in zip(one[point].indices, one[point].values):
            assert np.allclose(stored[index], ratios, atol=1e-6)  # the cache holds float32
    for point in grown:
        a, b = load_point(tmp_path / "one", point), load_point(tmp_path / "two", point)
        order_a, order_b = np.argsort(a.indices), np.argsort(b.indices)
        assert sorted(a.indices) == list(range(point.realisations))
        for i, j in zip(order_a, order_b):
            assert np.allclose(a.values[i], b.values[j], atol=1e-6)  # float32 on disk
    assert len(fresh[grown[0]].indices) == 5
    fewer = sample([Point(6, 16.0, 2)], tmp_path / "one", compute)  # a smaller study in the same cache
    assert sorted(fewer[Point(6, 16.0, 2)].indices) == [0, 1]


def test_the_network_tells_extended_from_localised_levels():
    extended = [blocks(realisation_ratios(8, 6.0, i, 0), 16) for i in range(30)]
    localised = [blocks(realisation_ratios(8, 30.0, i, 0), 16) for i in range(60)]
    training = train_classifier(extended[:20], localised[:40], epochs=30)
    assert training.validation_accuracy > 0.6  # blocks of 16 ratios of 8³ lattices overlap much
    on_extended, _ = realisation_outputs(training, extended[20:])
    on_localised, _ = realisation_outputs(training, localised[40:])
    assert on_extended.mean() > 0 > on_localised.mean()  # logits of P(extended)


def test_finite_size_scaling_recovers_a_known_transition():
    rng = np.random.default_rng(4)
    critical, exponent = 16.5, 1.6
    estimates = []
    for size in (8, 10, 12, 16):
        for disorder in np.arange(15.0, 18.01, 0.5):
            x = (disorder - critical) / critical * size ** (1 / exponent)
            value = 0.5 - 0.8 * x + 0.3 * x**2 - 0.5 * x**3 + rng.normal(0, 0.002)
            estimates.append(Estimate(size, disorder, value, 0.002))
    fit = fit_scaling(estimates, order=3)
    assert abs(fit.critical_disorder - critical) < 0.05 and abs(fit.exponent - exponent) < 0.08
    assert 0.5 < fit.chi2 / fit.dof < 2


def test_weighted_estimate_and_its_refusal():
    estimate = weighted_estimate(8, 16.0, np.array([0.4, 0.6, np.nan]), np.array([1, 3, 0]))
    assert estimate.value == pytest.approx(0.55) and estimate.error > 0
    with pytest.raises(EsmlError, match="fewer than 2 realisations"):
        weighted_estimate(8, 16.0, np.array([0.4]), np.array([2]))


def test_a_clean_bar_has_the_exponents_of_its_transverse_modes():
    size = 4
    exponents = segment_exponents(size, 0.0, 1, 200, size * size, np.random.default_rng(0))[0] / size
    modes = np.linalg.eigvalsh(slice_hopping(size).toarray())
    expected = np.sort(np.arccosh(np.maximum(np.abs(modes) / 2, 1)))  # |τ| ≤ 2 propagates: γ = 0
    assert np.allclose(exponents, expected, atol=0.02)


def test_bars_at_the_critical_disorder_have_the_critical_localisation_length():
    """Λ = 1/⟨γ_min L⟩ is scale-invariant at W_c: 0.576 (Slevin & Ohtsuki 1999) for every width."""
    for size in (4, 6):
        z = bar_realisation(size, 16.54, 0, seed=0, segments=40, aspect=32, keep=1)
        assert 1 / z.mean() == pytest.approx(0.576, rel=0.06), size


def test_a_bar_is_fixed_by_its_seed_and_index_alone():
    first = bar_realisation(5, 16.0, 2, seed=3, segments=2, aspect=4, keep=3)
    assert first.shape == (2, 3) and np.array_equal(first, bar_realisation(5, 16.0, 2, seed=3, segments=2, aspect=4, keep=3))
    assert not np.array_equal(first, bar_realisation(5, 16.0, 3, seed=3, segments=2, aspect=4, keep=3))


@pytest.mark.parametrize("probe", ["transfer", "levels"])
def test_a_small_study_runs_end_to_end_and_a_rerun_reads_its_cache(tmp_path, probe):
    study = AndersonStudy(probe=probe, sizes=(4, 5, 6), disorders=(12.0, 15.0, 18.0, 21.0), samples_per_point=60,
                          segments=10, aspect=8, extended=(5.0,), localised=(30.0,), training_sizes=(5,),
                          training_samples=60, unseen_sizes=(7,), unseen_disorders=(16.0,), unseen_samples=20,
                          half_width=3.0, block=8, epochs=3, bootstrap=3, order=1).checked()
    result, _ = run_study(study, tmp_path)
    progress = []
    again, _ = run_study(study, tmp_path, on_progress=lambda done, total: progress.append((done, total)))
    assert progress == [(progress[0][1], progress[0][1])]  # everything came from the cache
    assert again["network"]["w_c"] == result["network"]["w_c"]
    for name in ("network", "classical"):
        fit = result[name]
        assert 12 <= fit["w_c"] <= 21 and len(fit["points"]) == 12 and len(fit["unseen"]) == 1


def test_esml_anderson_writes_its_results_plot_and_network(tmp_path):
    import json

    from test_cli import esml

    run = esml("anderson", "--sizes", "4,5,6", "--disorders", "12:21:3", "--samples", "40", "--segments", "10",
               "--aspect", "8", "--extended", "5", "--localised", "30", "--training-sizes", "5", "--training-samples",
               "40", "--unseen-sizes", "", "--epochs", "2", "--bootstrap", "2", "--order", "1", "--out", tmp_path / "run",
               "--quiet")
    assert run.returncode == 0, run.stderr
    result = json.loads((tmp_path / "run" / "anderson.json").read_text())
    assert result["study"]["sizes"] == [4, 5, 6] and result["network"]["unseen"] == []
    assert (tmp_path / "run" / "anderson.png").stat().st_size > 10_000 and (tmp_path / "run" / "network.pt").exists()
    assert "W_c =" in run.stdout + run.stderr

