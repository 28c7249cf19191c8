"""Learned Hamiltonians as PySCF's initial guess (issue #40): basis conventions, equivariance,
the guess path for closed and open shells, fall-backs, training and bad input."""

from __future__ import annotations

import warnings
from dataclasses import replace

import numpy as np
import pytest
import torch
from ase import Atoms
from ase.build import molecule
from pyscf import gto
from scipy.spatial.transform import Rotation

from esml.errors import MethodError
from esml.hamiltonians.basis import ao_rotation, element_basis
from esml.hamiltonians.data import load_or_compute
from esml.hamiltonians.guess import occupied_density
from esml.hamiltonians.model import HamiltonianModel
from esml.hamiltonians.training import FitSettings, fit, in_orbitals, load_model, molecule_loss, rotation, target_of
from esml.methods import parse_method
from esml.qm.engine import calculator, compute
from esml.qm.pyscf_engine import build_molecule, converge, mean_field_for, run_mean_field

METHOD = "hf/sto-3g"
ROTATION = Rotation.from_euler("zyx", [0.7, -1.1, 2.3]).as_matrix()


def model_for(elements=(1, 6, 8), basis="sto-3g", seed=0, **options) -> HamiltonianModel:
    torch.manual_seed(seed)
    return HamiltonianModel([element_basis(basis, z) for z in elements], basis, METHOD, channels=8, pair_channels=8, **options)


def with_random_heads(model: HamiltonianModel) -> HamiltonianModel:
    """An untrained model predicts zero (its heads' last weights start at zero): random ones make the
    symmetry tests see a matrix."""
    with torch.no_grad():
        for parameter in model.parameters():
            if not parameter.any():
                parameter.normal_()
    return model


def test_an_untrained_model_predicts_the_baseline_itself():
    numbers, positions = torch.tensor([8, 1, 1]), torch.tensor(molecule("H2O").positions)
    assert not model_for().double()(numbers, positions).any()


def test_ao_rotation_is_how_pyscf_matrices_turn_with_the_molecule():
    """U from esml's shell rotations maps PySCF's overlap and nuclear attraction of a molecule onto
    those of the rotated molecule, up to d shells (def2-SVP) in PySCF's own order."""
    atoms = [("O", (0.0, 0.1, 0.0)), ("C", (1.2, -0.3, 0.2)), ("H", (-0.5, 0.8, 0.6))]
    before = gto.M(atom=atoms, basis="def2-svp", spin=1, verbose=0)
    after = gto.M(atom=[(s, tuple(ROTATION @ np.array(x))) for s, x in atoms], basis="def2-svp", spin=1, verbose=0)
    rotation = ao_rotation([element_basis("def2-svp", int(z)) for z in before.atom_charges()], ROTATION)
    for integral in ("int1e_ovlp", "int1e_nuc"):
        np.testing.assert_allclose(rotation @ before.intor(integral) @ rotation.T, after.intor(integral), atol=1e-12)


def test_the_predicted_matrix_rotates_as_the_basis_functions_and_ignores_atom_order():
    torch.manual_seed(1)
    model = with_random_heads(model_for(basis="def2-svp", seed=1)).double()
    numbers = torch.tensor([8, 1, 6, 1, 6, 1])
    positions = torch.randn(6, 3, dtype=torch.float64) * 2.0
    matrix = model(numbers, positions).detach().numpy()
    rotated = model(numbers, positions @ torch.from_numpy(ROTATION).T).detach().numpy()
    rotation = ao_rotation([model.bases[int(z)] for z in numbers], ROTATION)
    assert np.abs(matrix).max() > 0.1
    np.testing.assert_allclose(rotation @ matrix @ rotation.T, rotated, atol=1e-6 * np.abs(matrix).max())
    np.testing.assert_allclose(matrix, matrix.T, atol=1e-14)
    order = [2, 0, 5, 1, 4, 3]
    offsets = model.ao_offsets(numbers.tolist())
    index = np.concatenate([np.arange(offsets[k], offsets[k + 1]) for k in order])
    np.testing.assert_allclose(model(numbers[order], positions[order]).detach().numpy(), matrix[np.ix_(index, index)], atol=1e-12)


def test_molecules_batched_give_each_one_its_own_matrix():
    model = with_random_heads(model_for()).double()
    first, second = molecule("H2O"), molecule("CH4")
    second.positions += 3.0  # overlapping in space: the batch must still keep them apart
    numbers = torch.tensor(np.concatenate([first.numbers, second.numbers]))
    positions = torch.tensor(np.concatenate([first.positions, second.positions]))
    molecule_index = torch.tensor([0] * 3 + [1] * 5)
    together = model(numbers, positions, molecule_index).detach().numpy()
    alone = [model(torch.tensor(a.numbers), torch.tensor(a.positions)).detach().numpy() for a in (first, second)]
    n = len(alone[0])
    np.testing.assert_allclose(together[:n, :n], alone[0], atol=1e-12)
    np.testing.assert_allclose(together[n:, n:], alone[1], atol=1e-12)
    assert not together[:n, n:].any()


def test_the_converged_density_as_guess_converges_at_once():
    atoms = molecule("H2CO")
    spec = parse_method(METHOD)
    mol = build_molecule(atoms, spec, 0, 1, "formaldehyde")
    converged, cycles = run_mean_field(mol, spec, "formaldehyde")
    assert cycles > 3
    density = 2 * occupied_density(converged.get_fock(), converged.get_ovlp(), mol.nelec[0])
    again, again_cycles = converge(mean_field_for(mol, spec), density)
    assert again_cycles <= 2
    assert abs(again.e_tot - converged.e_tot) < 1e-9


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    """A small model fitted for a few seconds to water, methanol, formaldehyde and methane at HF/STO-3G."""
    folder = tmp_path_factory.mktemp("hamiltonian")
    spec = parse_method(METHOD)
    samples = [load_or_compute(molecule(name), spec, folder / "samples") for name in ("H2O", "CH3OH", "H2CO", "CH4")]
    model = model_for()
    state = fit(model, samples, FitSettings(minutes=0.05, batch=2, validation=0.25), folder / "checkpoint.pt", folder / "model.pt",
                progress=lambda line: None)
    return folder, samples, state


def test_training_learns_resumes_and_keeps_the_best_epoch(trained):
    folder, samples, state = trained
    history = state["history"]
    model, scores = load_model(folder / "model.pt")
    assert scores["validation_loss"] == pytest.approx(min(row["validation_loss"] for row in history))
    more = fit(model_for(), samples, FitSettings(minutes=0.08, batch=2, validation=0.25), folder / "checkpoint.pt",
               folder / "model-more.pt", progress=lambda line: None)
    assert more["epoch"] > state["epoch"] and more["history"][: state["epoch"]] == history
    assert more["history"][-1]["train_loss"] < more["history"][0]["train_loss"]  # a loaded machine may fit one epoch per call


def test_the_loss_is_relative_to_the_baseline_and_its_rotation_is_the_first_order_density_change(trained):
    _, samples, _ = trained
    sample = samples[2]  # formaldehyde
    target = target_of(sample)
    assert molecule_loss(torch.zeros_like(target.correction), target, 0.5).item() == pytest.approx(1.5, rel=1e-5)
    assert molecule_loss(target.correction, target, 0.5).item() == 0
    perturbation = np.random.default_rng(0).normal(scale=1e-4, size=sample.fock.shape)
    perturbation = perturbation + perturbation.T
    occupied = sample.n_occupied
    moved = 2 * occupied_density(sample.fock + perturbation, sample.overlap, occupied)
    exact = 2 * occupied_density(sample.fock, sample.overlap, occupied)
    kappa = rotation(in_orbitals(torch.from_numpy(perturbation).float(), target), target).double().numpy()
    orbitals = target.orbitals.double().numpy()
    first_order = -2 * (orbitals[:, :occupied] @ kappa @ orbitals[:, occupied:].T)
    assert np.abs(moved - exact - first_order - first_order.T).max() < 1e-2 * np.abs(moved - exact).max()


@pytest.mark.parametrize(("name", "multiplicity"), [("H2O", 1), ("CH3", 2)])
def test_the_learned_guess_converges_to_minaos_answer_for_closed_and_open_shells(trained, name, multiplicity):
    folder, _, _ = trained
    atoms = molecule(name)
    energies = {}
    for guess in ("minao", str(folder / "model.pt")):
        result = compute(atoms, parse_method(METHOD, initial_guess=guess), multiplicity=multiplicity, forces=False)
        assert result["scf_cycles"] >= 1
        energies[guess] = result["energy"]
    assert len(set(np.round(list(energies.values()), 6))) == 1


def test_an_unknown_element_or_another_basis_falls_back_to_minao_with_a_warning(trained):
    folder, _, _ = trained
    model_path = str(folder / "model.pt")
    cases = [(Atoms("HF", positions=[(0, 0, 0), (0, 0, 0.92)]), METHOD, "knows no F"),
             (molecule("H2O"), "hf/6-31g", "trained in sto-3g")]
    for atoms, method, said in cases:
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            learned = compute(atoms, parse_method(method, initial_guess=model_path), forces=False)
        assert any(said in str(w.message) for w in caught)
        reference = compute(atoms, parse_method(method), forces=False)
        assert learned["scf_cycles"] == reference["scf_cycles"]
        assert learned["energy"] == pytest.approx(reference["energy"], abs=1e-6)


def test_classical_guesses_pass_through_and_bad_guesses_are_refused_in_one_line(tmp_path):
    water = molecule("H2O")
    cycles = {}
    for guess in ("minao", "huckel", "1e"):
        water.calc = calculator(METHOD, initial_guess=guess)
        water.get_potential_energy()
        cycles[guess] = water.calc.results["scf_cycles"]
    assert len(set(cycles.values())) > 1  # PySCF really started from different places
    with pytest.raises(MethodError, match="unknown; use one of minao"):
        parse_method(METHOD, initial_guess="guessing")
    with pytest.raises(MethodError, match="no model file"):
        compute(water, parse_method(METHOD, initial_guess=str(tmp_path / "missing.pt")), forces=False)
    with pytest.raises(MethodError, match="PySCF's SCF only"):
        parse_method("gfn2-xtb", initial_guess="huckel")
    assert replace(parse_method(METHOD), initial_guess="huckel").settings() == parse_method(METHOD).settings()


def test_estimates_from_the_predicted_matrix_and_the_command(trained, tmp_path, monkeypatch, capsys):
    """Frontier orbitals and dipole without an SCF, from the model's matrix (its accuracy is the
    benchmark's); water's dipole lies on its symmetry axis, as an equivariant model must keep it;
    `esml electronic` writes them; a radical or an unknown element is refused in one line."""
    import json

    import ase.io

    from esml.cli.main import main
    from esml.errors import StructureError
    from esml.hamiltonians.estimate import estimate

    folder, _, _ = trained
    water = molecule("H2O")
    found = estimate(water, str(folder / "model.pt"))
    occupied = int(water.numbers.sum()) // 2
    assert (found.homo, found.lumo) == (found.orbital_energies[occupied - 1], found.orbital_energies[occupied])
    assert found.gap > 0 and abs(found.dipole[:2]).max() < 1e-6 and abs(found.dipole[2]) > 0.05
    with pytest.raises(StructureError, match="closed shell"):
        estimate(molecule("CH3"), str(folder / "model.pt"))
    with pytest.raises(StructureError, match="knows no F"):
        estimate(Atoms("HF", positions=[(0, 0, 0), (0, 0, 0.92)]), str(folder / "model.pt"))
    ase.io.write(tmp_path / "water.xyz", water)
    monkeypatch.setattr("sys.argv", ["esml", "electronic", str(tmp_path / "water.xyz"), "--model", str(folder / "model.pt"),
                                     "--json", str(tmp_path / "out.json")])
    with pytest.raises(SystemExit) as exit:
        main()
    assert exit.value.code == 0, capsys.readouterr()
    assert json.loads((tmp_path / "out.json").read_text())[0]["gap_eV"] == pytest.approx(found.gap)
