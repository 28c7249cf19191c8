"""`esml train | evaluate | md | optimize | vibrate` end to end, as a user runs them."""

import json
import re

import ase.io
import numpy as np
import pytest
from ase import units
from ase.build import molecule
from ase.calculators.singlepoint import SinglePointCalculator
from test_cli import assert_one_line_error, esml

from esml.data.model_records import model_records
from esml.data.store import open_store

TINY = ["--option", 'hidden={"1": [16, 8], "6": [16, 8], "8": [16, 8]}']


def test_train_then_evaluate_then_run_md_with_the_model(ethanol_file, tmp_path):
    model = tmp_path / "model.pt"
    run = esml("train", "--model", "ani", "--data", ethanol_file, "--out", model, "--epochs", "3", "--batch-size", "4", *TINY)
    assert run.returncode == 0, run.stderr
    assert "test" in run.stderr and model.exists()

    metrics_path = tmp_path / "metrics.json"
    run = esml("evaluate", model, ethanol_file, "--split", "test", "--json", metrics_path, "--plot", tmp_path / "parity.png")
    assert run.returncode == 0, run.stderr
    metrics = json.loads(metrics_path.read_text())
    assert metrics["n_structures"] == 4
    assert {"energy_mae", "force_mae", "energy_rmse", "force_rmse"} <= set(metrics)
    assert "force_coverage_1sigma" not in metrics  # one network has no uncertainty
    assert (tmp_path / "parity.png").read_bytes()[:4] == b"\x89PNG"

    start = tmp_path / "start.xyz"
    ase.io.write(start, molecule("CH3CH2OH"))
    summary_path = tmp_path / "md.json"
    run = esml("md", model, start, "--steps", "40", "--interval", "10", "--out", tmp_path / "md.xyz", "--json", summary_path)
    assert run.returncode == 0, run.stderr
    assert len(ase.io.read(tmp_path / "md.xyz", ":")) == 4
    assert json.loads(summary_path.read_text())["frames"] == 4


def test_an_ensemble_trains_in_parallel_and_is_one_file(ethanol_file, tmp_path):
    run = esml("train", "--data", ethanol_file, "--out", tmp_path / "ens.pt", "--ensemble", "2", "--epochs", "1", *TINY)
    assert run.returncode == 0, run.stderr
    assert "member 1" in run.stderr
    assert sorted(p.name for p in tmp_path.iterdir()) == ["ens.pt"]
    # its spread is an uncertainty: evaluate reports how many force errors it covers, raw
    run = esml("evaluate", tmp_path / "ens.pt", ethanol_file, "--json", tmp_path / "m.json", "--plot", tmp_path / "p.png")
    assert run.returncode == 0, run.stderr
    metrics = json.loads((tmp_path / "m.json").read_text())
    assert metrics["sigma_scale"] == 1.0 and 0 < metrics["force_coverage_1sigma"] < metrics["force_coverage_2sigma"] <= 1
    assert "inside ±1σ" in run.stderr and "raw" in run.stderr
    # MD with it records the force σ of every saved frame, and stops where σ passes a limit
    start = tmp_path / "start.xyz"
    ase.io.write(start, molecule("CH3CH2OH"))
    md = ["md", tmp_path / "ens.pt", start, "--steps", "40", "--interval", "10", "--out", tmp_path / "md.xyz", "--json", tmp_path / "md.json"]
    run = esml(*md)
    assert run.returncode == 0, run.stderr
    summary = json.loads((tmp_path / "md.json").read_text())
    sigmas = [atoms.info["force_sigma"] for atoms in ase.io.read(tmp_path / "md.xyz", ":")]
    assert len(sigmas) == 4 and min(sigmas) > 0 and summary["max_force_sigma"] == pytest.approx(max(sigmas))
    assert summary["stopped_uncertain_fs"] is None
    run = esml(*md, "--max-force-sigma", str(min(sigmas) / 2))
    assert run.returncode == 1 and "stopped at 5 fs" in run.stderr
    summary = json.loads((tmp_path / "md.json").read_text())
    assert summary["frames"] == 1 and summary["stopped_uncertain_fs"] == 5.0


def test_vibrate_and_optimize_with_a_reference_method(tmp_path):
    start = tmp_path / "water.xyz"
    ase.io.write(start, molecule("H2O"))
    out = tmp_path / "freq.json"
    run = esml("vibrate", "gfn2-xtb", start, "--json", out)
    assert run.returncode == 0, run.stderr
    result = json.loads(out.read_text())
    np.testing.assert_allclose(result["frequencies_cm1"], [1539, 3642, 3651], atol=3)  # GFN2-xTB's water
    # ½ Σ hν over the three vibrations alone, not the near-zero translations and rotations
    assert result["zero_point_energy_eV"] == pytest.approx(0.5 * sum(result["frequencies_cm1"]) * units.invcm, rel=1e-9)
    run = esml("optimize", "gfn2-xtb", start, "--out", tmp_path / "opt.xyz")
    assert run.returncode == 0, run.stderr
    assert np.abs(ase.io.read(tmp_path / "opt.xyz").get_forces()).max() < 0.005


def test_nve_md_with_xtb_conserves_energy(tmp_path):
    start = tmp_path / "ethanol.xyz"
    ase.io.write(start, molecule("CH3CH2OH"))
    out = tmp_path / "nve.json"
    run = esml("md", "gfn2-xtb", start, "--ensemble", "nve", "--steps", "400", "--timestep", "0.25", "--out", tmp_path / "nve.xyz", "--json", out, "-q")
    assert run.returncode == 0, run.stderr
    summary = json.loads(out.read_text())
    assert abs(summary["drift_meV_per_atom_per_ps"]) < 5 and summary["bonds_changed"] == 0


def test_bad_input_to_the_potential_commands_is_one_line(ethanol_file, tmp_path):
    assert_one_line_error(esml("train", "--model", "schnet", "--data", ethanol_file), "unknown model")
    assert_one_line_error(esml("train", "--out", tmp_path / "m.pt"), "--data")
    assert_one_line_error(esml("train", "--data", ethanol_file, "--option", "depth=3"), "model option")
    assert_one_line_error(esml("evaluate", tmp_path / "missing.pt", ethanol_file), "no such model file")
    assert_one_line_error(esml("md", tmp_path / "missing.pt", ethanol_file), "no such model file")
    assert_one_line_error(esml("md", "gfn2-xtb", ethanol_file, "--thermostat", "berendsen"), "unknown thermostat")
    assert_one_line_error(esml("md", "gfn2-xtb", ethanol_file, "--max-force-sigma", "0.1"), "has no uncertainty")
    chloro = tmp_path / "chloro.xyz"
    ase.io.write(chloro, molecule("CH3Cl"))
    model = tmp_path / "m.pt"
    assert esml("train", "--data", ethanol_file, "--out", model, "--epochs", "1", *TINY).returncode == 0
    assert_one_line_error(esml("md", model, chloro, "--steps", "10"), "not trained on Cl")


def test_train_from_a_store_dataset_uses_its_stored_splits(ethanol_file, tmp_path):
    db = tmp_path / "store.db"
    assert esml("ingest", ethanol_file, "--db", db).returncode == 0
    run = esml("datasets", "create", "ethanol", "--db", db, "--filter", 'elements HAS "C"', "--fractions", "0.7,0.1,0.2")
    assert run.returncode == 0, run.stderr
    run = esml("train", "--db", db, "--dataset", "ethanol", "--out", tmp_path / "m.pt", "--epochs", "1", *TINY)
    assert run.returncode == 0, run.stderr
    counts = re.search(r"(\d+) training, (\d+) validation, (\d+) test frames", run.stderr)
    n_train, n_valid, n_test = map(int, counts.groups())
    assert n_train + n_valid + n_test == 24 and n_valid > 0 and n_test > 0
    # the model goes back into the store, with the calculations it was fitted on
    (model,) = model_records(open_store(str(db)), "train:")
    assert model.file == str((tmp_path / "m.pt").resolve()) and model.kind == "ani"
    assert len(model.training_ids) == n_train + n_valid and model.record["dataset"] == "ethanol"
    assert model.record["test"]["force_mae"] > 0


def test_a_mace_model_trains_on_revised_md17_files_with_isolated_atom_references(ethanol_frames, tmp_path):
    """The tables' workflow: an npz in revised MD17's layout (kcal/mol), isolated-atom energies,
    the MACE-class family with its recipe (moving average, stage two), then the test file."""
    from ase.units import kcal, mol

    def write_npz(path, frames):
        np.savez(path, nuclear_charges=frames[0].numbers, coords=np.array([a.positions for a in frames]),
                 energies=np.array([a.get_potential_energy() for a in frames]) / (kcal / mol),
                 forces=np.array([a.get_forces() for a in frames]) / (kcal / mol))

    write_npz(tmp_path / "train.npz", ethanol_frames[:16])
    write_npz(tmp_path / "test.npz", ethanol_frames[16:])
    isolated = [molecule(symbol) for symbol in ("H", "C", "O")]
    for atoms, energy in zip(isolated, (-10.7, -48.5, -103.0)):
        atoms.calc = SinglePointCalculator(atoms, energy=energy)
    ase.io.write(tmp_path / "iso.xyz", isolated, format="extxyz")
    model = tmp_path / "mace.pt"
    run = esml("train", "--model", "mace", "--data", tmp_path / "train.npz", "--reference-energies", tmp_path / "iso.xyz",
               "--epochs", "2", "--option", "features=4", "--option", "n_basis=4", "--out", model, "--quiet")
    assert run.returncode == 0, run.stderr
    from esml.potentials.files import load_with_metadata

    potential, recorded = load_with_metadata(model)
    assert potential.kind == "mace" and potential.self_energies.tolist() == [-10.7, -48.5, -103.0]
    assert recorded["train_config"]["ema_decay"] == 0.99 and recorded["train_config"]["stage_two"] == 0.75
    assert potential.config()["mean_neighbours"] == pytest.approx(8.0)  # ethanol within 5 Å: every other atom
    run = esml("evaluate", model, tmp_path / "test.npz", "--json", tmp_path / "test.json")
    assert run.returncode == 0, run.stderr
    metrics = json.loads((tmp_path / "test.json").read_text())
    assert metrics["n_structures"] == 8 and metrics["force_mae"] > 0
    from esml.structures import read_structures

    read_back = read_structures(tmp_path / "test.npz")  # kcal/mol in the file, eV in esml
    for atoms, original in zip(read_back, ethanol_frames[16:]):
        assert atoms.get_potential_energy() == pytest.approx(original.get_potential_energy(), abs=1e-9)
        np.testing.assert_allclose(atoms.get_forces(), original.get_forces(), atol=1e-9)
