"""A GP correction on a GFN2-xTB baseline: the sum's forces, its uncertainty, its file, and the loop."""

import numpy as np
import pytest
from ase.build import molecule

from esml.active.config import LearnConfig, WalkSettings
from esml.active.loop import ActiveLearner
from esml.calculator import PotentialCalculator
from esml.errors import EsmlError
from esml.methods import parse_method, parse_reference
from esml.potentials.delta import DeltaPotential
from esml.potentials.files import load, metadata, save
from esml.qm import calculator
from esml.qm.cache import LabelCache
from esml.qm.label import label_structures
from esml.training.config import GPConfig
from esml.training.delta import fit_gp_on_baseline, residual_frames, resolve_baseline


@pytest.fixture(scope="module")
def delta(ethanol_frames, tmp_path_factory):
    """GFN2-xTB labels learned on a GFN1-xTB baseline: a cheap stand-in for DFT on xTB."""
    train = [a for a in ethanol_frames if a.info["split"] == "train"]
    labels = LabelCache(tmp_path_factory.mktemp("delta") / "labels.sqlite")
    return fit_gp_on_baseline(train, parse_reference("gfn1-xtb"), labels, GPConfig(length_scales=(8.0,)))


def test_the_model_is_the_baseline_plus_the_correction_in_energy_and_forces(delta, ethanol_frames):
    atoms = ethanol_frames[21].copy()
    atoms.calc = PotentialCalculator(delta)
    baseline = ethanol_frames[21].copy()
    baseline.calc = calculator("gfn1-xtb")
    correction = ethanol_frames[21].copy()
    correction.calc = PotentialCalculator(delta.correction)
    assert atoms.get_potential_energy() == pytest.approx(baseline.get_potential_energy() + correction.get_potential_energy(), abs=1e-8)
    np.testing.assert_allclose(atoms.get_forces(), baseline.get_forces() + correction.get_forces(), atol=1e-8)
    np.testing.assert_allclose(atoms.calc.get_property("forces_std", atoms), correction.calc.get_property("forces_std", correction))


def test_a_correction_learns_the_oracle_better_than_the_baseline_alone(delta, ethanol_frames):
    test = [a for a in ethanol_frames if a.info["split"] == "test"]
    model, baseline = PotentialCalculator(delta), calculator("gfn1-xtb")
    errors = {"model": [], "baseline": []}
    for reference in test:
        for name, calc in (("model", model), ("baseline", baseline)):
            atoms = reference.copy()
            atoms.calc = calc
            errors[name].append(np.abs(atoms.get_forces() - reference.get_forces()).mean())
    assert np.mean(errors["model"]) < 0.5 * np.mean(errors["baseline"])


def test_a_delta_model_survives_its_file_and_refuses_stress_and_site_energies(delta, ethanol_frames, tmp_path):
    save(delta, tmp_path / "delta.pt")
    again = load(tmp_path / "delta.pt")
    assert isinstance(again, DeltaPotential) and again.baseline == "gfn1-xtb"
    first, second = ethanol_frames[22].copy(), ethanol_frames[22].copy()
    first.calc, second.calc = PotentialCalculator(delta), PotentialCalculator(again)
    np.testing.assert_allclose(first.get_forces(), second.get_forces(), atol=1e-9)  # xTB sums in threads
    from esml.potentials.attribution import site_energies

    with pytest.raises(EsmlError, match="no energies per atom"):
        site_energies(again, ethanol_frames[22])


def test_auto_baseline_is_xtb_under_dft_and_none_under_xtb():
    dft, xtb = parse_reference("pbe/def2-svp"), parse_reference("gfn2-xtb")
    assert dft.density_fit and not parse_reference("mp2/def2-svp").density_fit  # where density fitting applies
    assert resolve_baseline(dft, "auto") == xtb
    assert resolve_baseline(xtb, "auto") is None
    assert resolve_baseline(dft, "none") is None
    with pytest.raises(EsmlError, match="not understood"):
        resolve_baseline(dft, "b3lyp")


def test_the_loop_learns_on_a_baseline_and_saves_the_sum(tmp_path):
    config = LearnConfig(oracle="gfn2-xtb", baseline="gfn1-xtb", budget=12, temperatures=(300.0,), walkers_per_temperature=2,
                         walk=WalkSettings(steps=60, equilibration_fs=10.0), batch_size=4, n_seed=3, n_validation=4)
    learner = ActiveLearner(tmp_path / "run", config, LabelCache(tmp_path / "labels.sqlite"))
    learner.start(molecule("CH3CH2OH"))
    state = learner.run()
    assert state.oracle_calls <= config.budget and state.status in ("budget", "converged")
    model = load(tmp_path / "run" / "model.pt")
    assert isinstance(model, DeltaPotential) and model.correction.kind == "gp"
    # the saved model is refitted on every oracle label, validation frames included
    saved = metadata(tmp_path / "run" / "model.pt")
    assert state.validation and saved["n_train"] == len(state.train) + len(state.validation)
    assert saved["baseline"] == "gfn1-xtb" and saved["calibration_scale"] > 0
    assert state.rounds[-1]["hyperparameters"]["force_noise"] > 0


def test_the_baseline_of_a_fit_is_computed_once_and_then_read_from_the_label_cache(ethanol_frames, tmp_path):
    frames = [a for a in ethanol_frames if a.info["split"] == "train"][:4]
    labels = LabelCache(tmp_path / "labels.sqlite")
    first = residual_frames(frames, parse_reference("gfn1-xtb"), labels)
    _, report = label_structures(frames, parse_method("gfn1-xtb"), labels)
    assert (report.cached, report.computed) == (len(frames), 0)
    again = residual_frames(frames, parse_reference("gfn1-xtb"), labels)
    np.testing.assert_array_equal([a.get_forces() for a in again], [a.get_forces() for a in first])


def test_the_baseline_is_computed_by_the_loops_workers(ethanol_frames, tmp_path):
    frames = [a for a in ethanol_frames if a.info["split"] == "train"][:4]
    serial = residual_frames(frames, parse_reference("gfn1-xtb"), LabelCache(tmp_path / "serial.sqlite"))
    parallel = residual_frames(frames, parse_reference("gfn1-xtb"), LabelCache(tmp_path / "parallel.sqlite"), workers=2)
    np.testing.assert_allclose([a.get_forces() for a in parallel], [a.get_forces() for a in serial], atol=1e-8)
    _, report = label_structures(frames, parse_method("gfn1-xtb"), LabelCache(tmp_path / "parallel.sqlite"))
    assert (report.cached, report.computed) == (len(frames), 0)
