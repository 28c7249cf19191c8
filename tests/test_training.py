"""Training: it learns, it is reproducible with a seed, it resumes exactly, and it refuses bad data."""

import numpy as np
import pytest
import torch
from ase.build import molecule

from esml.errors import EsmlError
from esml.potentials import load
from esml.training.config import TrainConfig
from esml.training.data import split_frames
from esml.training.run import train_ensemble, train_potential

TINY = {"ani": {"hidden": {1: [16, 8], 6: [16, 8], 8: [16, 8]}}, "painn": {"features": 16, "layers": 2},
        "mace": {"features": 8, "layers": 2, "n_basis": 6, "radial_hidden": 16}}


def splits_of(frames):
    return split_frames(frames, valid_fraction=0.2, seed=0)


def weights(path):
    return {k: v.clone() for k, v in load(path).state_dict().items()}


@pytest.mark.parametrize("kind", ["ani", "painn", "mace"])
def test_training_lowers_the_force_error_and_reports_test_metrics(kind, ethanol_frames, tmp_path):
    result = train_potential(kind, splits_of(ethanol_frames), tmp_path / "m.pt",
                             TrainConfig(max_epochs=25, batch_size=4, learning_rate=3e-3), TINY[kind])
    history = load(tmp_path / "m.pt")  # the file loads and carries its record
    assert history.n_members == 1
    from esml.potentials.files import metadata

    record = metadata(tmp_path / "m.pt")
    first = record["history"][0]["valid_force_mae"]
    assert result.valid["force_mae"] < 0.7 * first
    assert result.test["n_structures"] == 4 and result.test["force_mae"] > 0


def test_the_same_seed_gives_the_same_model(ethanol_frames, tmp_path):
    config = TrainConfig(max_epochs=2, batch_size=4, seed=5)
    for name in ("a.pt", "b.pt"):
        train_potential("ani", splits_of(ethanol_frames), tmp_path / name, config, TINY["ani"])
    first, second = weights(tmp_path / "a.pt"), weights(tmp_path / "b.pt")
    assert all(torch.equal(first[k], second[k]) for k in first)
    train_potential("ani", splits_of(ethanol_frames), tmp_path / "c.pt", TrainConfig(max_epochs=2, batch_size=4, seed=6), TINY["ani"])
    third = weights(tmp_path / "c.pt")
    assert not all(torch.equal(first[k], third[k]) for k in first)


def test_an_interrupted_run_resumes_to_the_same_model(ethanol_frames, tmp_path):
    config = TrainConfig(max_epochs=4, batch_size=4, patience=100)
    splits = splits_of(ethanol_frames)
    train_potential("ani", splits, tmp_path / "straight.pt", config, TINY["ani"])
    train_potential("ani", splits, tmp_path / "resumed.pt", TrainConfig(max_epochs=2, batch_size=4, patience=100), TINY["ani"])
    train_potential("ani", splits, tmp_path / "resumed.pt", config, TINY["ani"], resume=True)
    straight, resumed = weights(tmp_path / "straight.pt"), weights(tmp_path / "resumed.pt")
    assert all(torch.allclose(straight[k], resumed[k], atol=1e-6) for k in straight)


def test_the_moving_average_and_stage_two_resume_exactly_and_stage_two_searches_afresh(ethanol_frames, tmp_path):
    from esml.potentials.files import metadata

    recipe = dict(batch_size=4, patience=100, ema_decay=0.9, stage_two=0.5, stage_two_energy_weight=50.0, stage_two_lr_factor=0.1)
    splits = splits_of(ethanol_frames)
    train_potential("ani", splits, tmp_path / "straight.pt", TrainConfig(max_epochs=6, **recipe), TINY["ani"])
    history = metadata(tmp_path / "straight.pt")["history"]
    assert history[3]["learning_rate"] == pytest.approx(0.1 * history[2]["learning_rate"])  # stage two from epoch 4 of 6
    assert history[3]["improved"]  # its validation loss weighs energies differently: the best is searched afresh
    assert history[3]["valid_loss"] > history[2]["valid_loss"]

    def interrupt_after_epoch_4(log):
        if log.epoch == 4:  # in stage two, with a moving average: both must come back from the checkpoint
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        train_potential("ani", splits, tmp_path / "resumed.pt", TrainConfig(max_epochs=6, **recipe), TINY["ani"],
                        on_epoch=interrupt_after_epoch_4)
    train_potential("ani", splits, tmp_path / "resumed.pt", TrainConfig(max_epochs=6, **recipe), TINY["ani"], resume=True)
    straight, resumed = weights(tmp_path / "straight.pt"), weights(tmp_path / "resumed.pt")
    assert all(torch.allclose(straight[k], resumed[k], atol=1e-6) for k in straight)

    raw = TrainConfig(max_epochs=6, **{**recipe, "ema_decay": None})
    train_potential("ani", splits, tmp_path / "raw.pt", raw, TINY["ani"])
    assert not all(torch.allclose(straight[k], weights(tmp_path / "raw.pt")[k]) for k in straight)  # the average is what is saved


def test_a_time_budget_counts_every_session_of_a_resumed_run(ethanol_frames, tmp_path):
    from esml.potentials.files import metadata

    splits = splits_of(ethanol_frames)
    train_potential("ani", splits, tmp_path / "m.pt", TrainConfig(max_epochs=3, batch_size=4), TINY["ani"])
    spent = sum(epoch["seconds"] for epoch in metadata(tmp_path / "m.pt")["history"])
    budget = TrainConfig(max_epochs=1000, batch_size=4, max_minutes=0.5 * spent / 60)  # already spent: no more epochs
    train_potential("ani", splits, tmp_path / "m.pt", budget, TINY["ani"], resume=True)
    assert len(metadata(tmp_path / "m.pt")["history"]) == 3


def test_an_ensemble_is_trained_in_parallel_processes_and_saved_as_one_model(ethanol_frames, tmp_path):
    result = train_ensemble("ani", splits_of(ethanol_frames), tmp_path / "ens.pt", TrainConfig(max_epochs=2, batch_size=4),
                            members=2, options=TINY["ani"], workers=2)
    ensemble = load(result.path)
    assert ensemble.n_members == 2
    assert sorted(p.name for p in tmp_path.iterdir()) == ["ens.pt"]  # member files are cleaned up


def test_bad_training_data_is_refused_with_a_clear_message(ethanol_frames, tmp_path):
    with pytest.raises(EsmlError, match="no training frames"):
        splits_of([])
    unlabeled = [molecule("CH3CH2OH") for _ in range(3)]
    with pytest.raises(EsmlError, match="has no energy"):
        train_potential("ani", splits_of(unlabeled), tmp_path / "m.pt", TrainConfig(max_epochs=1), TINY["ani"])
    from ase.calculators.singlepoint import SinglePointCalculator

    energy_only = [atoms.copy() for atoms in ethanol_frames[:4]]
    for atoms, source in zip(energy_only, ethanol_frames):
        atoms.calc = SinglePointCalculator(atoms, energy=source.get_potential_energy())
    with pytest.raises(EsmlError, match="has no forces"):
        train_potential("ani", splits_of(energy_only), tmp_path / "m.pt", TrainConfig(max_epochs=1), TINY["ani"])
    result = train_potential("ani", splits_of(energy_only), tmp_path / "m.pt", TrainConfig(max_epochs=1, force_weight=0), TINY["ani"])
    assert "force_mae" not in result.valid and np.isfinite(result.valid["energy_mae"])


def test_one_composition_and_a_tiny_validation_set_are_warned_about(ethanol_frames):
    """Ethanol alone cannot fix three per-element energies; 20 frames at 20 % leave 4 validation frames."""
    from esml.errors import EsmlWarning
    from esml.training.data import fit_self_energies

    with pytest.warns(EsmlWarning, match=r"cannot be determined from 1 independent composition\(s\) \(C2H6O\) for 3 elements"):
        fit_self_energies(ethanol_frames, [1, 6, 8])
    with pytest.warns(EsmlWarning, match="only 4 validation frame"):
        splits_of(ethanol_frames)


def test_compositions_the_training_data_does_not_determine_are_found():
    from ase import Atoms
    from ase.build import molecule

    from esml.training.data import compositions_outside

    water, peroxide, methanol = molecule("H2O"), molecule("H2O2"), molecule("CH3OH")
    assert compositions_outside(["CH4O"], [water, methanol]) == ["H2O"]
    assert compositions_outside(["H2O", "H2O2"], [water, peroxide, molecule("H2")]) == []  # H and O both fixed
    assert compositions_outside(["H2O"], [Atoms("H4O2")]) == []  # a multiple of a trained composition


def test_evaluate_warns_about_a_composition_outside_the_training_data(ethanol_file, tmp_path, water):
    import ase.io
    from ase.calculators.singlepoint import SinglePointCalculator
    from test_cli import esml

    trained = esml("train", "--data", ethanol_file, "--out", tmp_path / "m.pt", "--epochs", "1", "-q")
    assert trained.returncode == 0, trained.stderr
    assert "esml: warning: per-element reference energies cannot be determined" in trained.stderr
    water.calc = SinglePointCalculator(water, energy=-137.0, forces=np.zeros((3, 3)))
    ase.io.write(tmp_path / "water.xyz", water)
    evaluated = esml("evaluate", tmp_path / "m.pt", tmp_path / "water.xyz")
    assert evaluated.returncode == 0, evaluated.stderr
    assert "esml: warning: H2O: composition(s) whose per-element reference energies the training data (C2H6O)" in evaluated.stderr


def test_a_family_recipe_is_the_default_and_each_setting_can_be_overridden_or_turned_off():
    from esml.training.config import family_config

    mace = family_config("mace")
    assert (mace.ema_decay, mace.stage_two, mace.batch_size, mace.learning_rate) == (0.99, 0.75, 5, 5e-3)
    assert family_config("mace", ema_decay=0.999, batch_size=None).ema_decay == 0.999
    off = family_config("mace", ema_decay=0, stage_two=0)
    assert off.ema_decay is None and off.stage_two is None
    assert family_config("ani").ema_decay is None and family_config("ani").learning_rate == 1e-3
