"""Uncertainty calibration and the choice of frames to label: pure functions, checked on known answers."""

import numpy as np
import pytest
from ase.build import molecule
from hypothesis import given, settings
from hypothesis import strategies as st

from esml.active.descriptors import structure_features
from esml.active.loop import ErrorScore
from esml.errors import EsmlError
from esml.numerics import farthest_point_sampling
from esml.training.calibration import coverage, fit_calibration, reliability_curve, reliability_plot


@pytest.fixture
def overconfident():
    """Errors drawn with σ_true = 2 σ_predicted: the raw σ is too small by 2."""
    rng = np.random.default_rng(0)
    sigma = rng.uniform(0.01, 0.1, size=20000)
    return rng.normal(scale=2 * sigma), sigma


def test_scale_calibration_recovers_the_factor_and_the_gaussian_coverage(overconfident):
    errors, sigma = overconfident
    assert coverage(errors, sigma) == pytest.approx(0.383, abs=0.01)  # P(|z| < 1/2)
    calibration = fit_calibration(errors, sigma, "scale")
    assert calibration.scale == pytest.approx(2.0, rel=0.02)
    calibrated = calibration.apply(sigma)
    assert coverage(errors, calibrated, 1) == pytest.approx(0.683, abs=0.01)
    assert coverage(errors, calibrated, 2) == pytest.approx(0.954, abs=0.01)


def test_coverage_calibration_holds_the_gaussian_share_of_heavy_tailed_errors_on_new_ones():
    """Student-t errors (3 degrees of freedom): the maximum-likelihood factor, pulled up by the
    tail, puts far more than 68 % inside ±1σ; the quantile factor fitted on one sample puts
    68 % of another sample there."""
    rng = np.random.default_rng(2)
    sigma = rng.uniform(0.01, 0.1, size=(2, 20000))
    errors = sigma * rng.standard_t(3, size=sigma.shape)
    likelihood = fit_calibration(errors[0], sigma[0], "scale")
    quantile = fit_calibration(errors[0], sigma[0], "coverage")
    assert coverage(errors[1], likelihood.apply(sigma[1])) > 0.78
    assert coverage(errors[1], quantile.apply(sigma[1])) == pytest.approx(0.683, abs=0.01)
    assert quantile.scale < likelihood.scale


def test_coverage_calibration_counts_an_error_with_zero_sigma_as_outside():
    """A GP gives σ = 0 to an atom beyond every cutoff; its error is outside ±kσ for any k, so the
    fitted factor must put 68.3 % of all the errors inside, not of those with σ > 0 (CI once saw 66.7 %)."""
    rng = np.random.default_rng(3)
    sigma = rng.uniform(0.1, 1.0, size=108)
    errors = sigma * rng.standard_normal(108)
    sigma[:3] = 0.0  # one isolated atom's three components
    calibrated = fit_calibration(errors, sigma, "coverage").apply(sigma)
    assert coverage(errors, calibrated) == pytest.approx(0.683, abs=0.01)
    blind = sigma.copy()
    blind[:50] = 0.0  # too many blind components: the factor covers every error that can be covered
    assert coverage(errors, fit_calibration(errors, blind, "coverage").apply(blind)) == pytest.approx(58 / 108)


def test_isotonic_calibration_is_monotone_and_fixes_a_wrongly_shaped_sigma():
    rng = np.random.default_rng(1)
    sigma = rng.uniform(0.1, 1.0, size=20000)
    errors = rng.normal(scale=sigma ** 2)  # the true spread grows like σ², not σ
    calibration = fit_calibration(errors, sigma, "isotonic")
    assert np.all(np.diff(calibration.values) >= 0)
    calibrated = calibration.apply(sigma)
    assert coverage(errors, calibrated) == pytest.approx(0.683, abs=0.02)
    expected, observed = reliability_curve(errors, calibrated)
    assert np.max(np.abs(expected - observed)) < 0.05


def test_reliability_plot_is_a_png(overconfident, tmp_path):
    errors, sigma = overconfident
    path = tmp_path / "reliability.png"
    reliability_plot({"raw": reliability_curve(errors, sigma)}, path, "test")
    assert path.read_bytes()[:4] == b"\x89PNG"


def test_calibration_refuses_bad_input():
    with pytest.raises(EsmlError, match="as many errors"):
        fit_calibration([0.1, 0.2], [0.1], "scale")
    with pytest.raises(EsmlError, match="unknown calibration"):
        fit_calibration([0.1], [0.1], "platt")
    for method in ("scale", "coverage"):
        with pytest.raises(EsmlError, match="every uncertainty is zero"):
            fit_calibration([0.1], [0.0], method)


def test_farthest_point_sampling_spreads_out_and_never_repeats():
    points = np.array([[0.0], [0.1], [0.2], [5.0], [5.1], [10.0], [10.0], [10.0]])
    picks = farthest_point_sampling(points, 3)
    assert points[picks, 0].tolist() == [0.0, 10.0, 5.0]
    everything = farthest_point_sampling(points, 20)
    assert sorted(everything) == list(range(len(points)))  # all rows once, duplicates included
    covered = np.array([[0.0], [10.0]])
    assert points[farthest_point_sampling(points, 1, covered)[0], 0] in (5.0, 5.1)


@settings(max_examples=50, deadline=None)
@given(st.lists(st.integers(0, 3), min_size=1, max_size=30), st.integers(1, 40))
def test_no_frame_is_ever_picked_twice(values, count):
    features = np.array(values, dtype=float)[:, None]  # many exact duplicates
    picks = farthest_point_sampling(features, count)
    assert len(picks) == len(set(picks)) == min(count, len(values))


def test_structure_features_are_invariant_and_tell_geometries_apart():
    ethanol = molecule("CH3CH2OH")
    moved = ethanol.copy()
    moved.rotate(40, "z")
    moved.translate((1, 2, 3))
    shuffled = ethanol[np.random.default_rng(0).permutation(len(ethanol))]
    stretched = ethanol.copy()
    stretched.positions[2] += (0.3, 0, 0)
    features = structure_features([ethanol, moved, shuffled, stretched])
    np.testing.assert_allclose(features[1], features[0], atol=1e-10)
    np.testing.assert_allclose(features[2], features[0], atol=1e-10)
    assert np.linalg.norm(features[3] - features[0]) > 1e-3


def test_the_expected_error_equals_the_validation_error_on_the_validation_frames():
    """Heavy-tailed errors: the maximum-likelihood scale alone, with the Gaussian √(2/π), would
    predict a larger MAE than the frames show, and a run judged by it would never stop."""
    rng = np.random.default_rng(3)
    sigmas = rng.uniform(0.01, 0.05, 2000)
    errors = sigmas * rng.standard_t(3, 2000)
    calibration = fit_calibration(errors, sigmas, "scale")
    gaussian = ErrorScore(calibration)
    measured = ErrorScore(calibration, float(np.abs(errors).mean() / calibration.apply(sigmas).mean()))
    assert gaussian(sigmas) > 1.1 * np.abs(errors).mean()
    assert measured(sigmas) == pytest.approx(np.abs(errors).mean())
    # the loop's choices do not hang on which factor the calibration fitted
    quantile = fit_calibration(errors, sigmas, "coverage")
    by_quantile = ErrorScore(quantile, float(np.abs(errors).mean() / quantile.apply(sigmas).mean()))
    assert by_quantile(sigmas[:10]) == pytest.approx(measured(sigmas[:10]))
