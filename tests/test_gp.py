"""The sparse GP potential: exactness on a small problem, forces, uncertainty, files."""

import numpy as np
import pytest
import torch
from ase import Atoms
from ase.build import molecule

from esml.calculator import PotentialCalculator
from esml.graph import atoms_to_graph
from esml.potentials.ani import AEVComputer, AEVParameters
from esml.potentials.files import load, save
from esml.potentials.gp import kernel_matrix
from esml.training.data import element_counts, fit_self_energies
from esml.training.gp import (
    DescriptorCache,
    Evidence,
    GPConfig,
    Observations,
    fit_gaussian_process,
    observations,
    select_inducing,
)


@pytest.fixture(scope="module")
def gp(ethanol_frames):
    train = [a for a in ethanol_frames if a.info["split"] == "train"]
    return fit_gaussian_process(train, GPConfig(length_scales=(8.0,)))


def test_sparse_gp_mean_equals_the_exact_gp_when_every_environment_is_inducing(ethanol_frames):
    """Energy observations only and every training environment inducing: the subset-of-regressors
    posterior mean is the exact GP's, for energies and forces at new frames."""
    train, test = ethanol_frames[:6], ethanol_frames[20:22]
    species = sorted(set(train[0].numbers))
    cache = DescriptorCache(species)
    described = [cache.get(a) for a in train]
    inducing, inducing_species = select_inducing(described, len(species), max_inducing=10_000)
    assert len(inducing) == sum(len(a) for a in train)
    self_energies = fit_self_energies(train, species)
    full = observations(described, element_counts(train, species), self_energies, inducing, inducing_species, 4.0)
    energy_only = Observations(full.energy_rows, full.energy_targets, full.n_atoms, full.force_rows[:0], full.force_targets[:0], full.whitening)
    noise, signal = 0.01, 1.5
    _, mean = Evidence(energy_only).posterior(energy_noise=noise, force_noise=1.0, signal=signal)
    weights = full.whitening @ mean

    # exact GP on structure energies E = Σ_i f(q_i), f ~ GP(0, σ_f² k), noise σ² n_atoms
    def structure_kernel(a, b):
        return kernel_matrix(a.aev, a.species, b.aev, b.species, 4.0).sum().item()

    gram = signal**2 * np.array([[structure_kernel(a, b) for b in described] for a in described])
    alpha = np.linalg.solve(gram + np.diag(noise**2 * full.n_atoms), full.energy_targets)
    for atoms in test:
        d = cache.get(atoms)
        exact = signal**2 * np.array([structure_kernel(d, b) for b in described]) @ alpha
        sparse = kernel_matrix(d.aev, d.species, inducing, inducing_species, 4.0).sum(0).numpy() @ weights
        assert sparse == pytest.approx(exact, rel=1e-6, abs=1e-8)


@pytest.mark.parametrize("atoms", [molecule("CH3CH2OH"), Atoms("OH2", [[0, 0, 0], [0.96, 0, 0], [-0.24, 0.93, 0]], cell=[3.0] * 3, pbc=True)],
                         ids=["ethanol", "water-with-its-own-images"])
def test_descriptor_jacobian_equals_forward_mode_over_all_positions(atoms):
    """The per-edge derivatives, placed by the chain rule, against plain jacfwd of the AEVs."""
    atoms = atoms.copy()
    atoms.rattle(0.05, seed=1)
    graph = atoms_to_graph(atoms, 5.1, torch.float64)
    computer = AEVComputer(3, AEVParameters()).double()
    species = torch.tensor([{1: 0, 6: 1, 8: 2}[z] for z in atoms.numbers])
    aev, jacobian = computer.jacobian(graph, species, graph.edge_vectors())
    expected = torch.func.jacfwd(lambda p: computer(graph, species, graph.edge_vectors(p)))(graph.positions)
    torch.testing.assert_close(aev, computer(graph, species, graph.edge_vectors()), rtol=0, atol=1e-12)
    torch.testing.assert_close(jacobian, expected.reshape(jacobian.shape), rtol=0, atol=1e-10)
    assert expected.abs().max() > 1


def test_gp_forces_are_the_negative_energy_gradient(gp, ethanol_frames):
    atoms = ethanol_frames[21].copy()
    atoms.calc = PotentialCalculator(gp)
    forces = atoms.get_forces()
    step = 1e-4
    for index, axis in [(0, 0), (4, 2), (8, 1)]:
        shifted = []
        for sign in (1, -1):
            moved = atoms.copy()
            moved.calc = PotentialCalculator(gp)
            moved.positions[index, axis] += sign * step
            shifted.append(moved.get_potential_energy())
        assert forces[index, axis] == pytest.approx(-(shifted[0] - shifted[1]) / (2 * step), abs=1e-5)


def test_gp_fits_its_training_forces_and_is_unsure_far_from_them(gp, ethanol_frames):
    calculator = PotentialCalculator(gp)
    seen = ethanol_frames[0].copy()
    seen.calc = calculator
    assert np.abs(seen.get_forces() - ethanol_frames[0].get_forces()).mean() < 0.1
    near = calculator.get_property("forces_std", seen).mean()
    far = molecule("CH3CH2OH")
    far.rattle(0.25, seed=5)
    far.calc = calculator
    assert calculator.get_property("forces_std", far).mean() > 3 * near > 0
    assert calculator.get_property("energy_std", far) > 0
    assert 0.0 < gp.hyperparameters["force_noise"] < 2.0


def test_gp_survives_saving_and_loading_with_its_uncertainty(gp, ethanol_frames, tmp_path):
    save(gp, tmp_path / "gp.pt")
    again = load(tmp_path / "gp.pt")
    results = []
    for model in (gp, again):
        atoms = ethanol_frames[22].copy()
        atoms.calc = PotentialCalculator(model)
        results.append((atoms.get_potential_energy(), atoms.get_forces(), atoms.calc.get_property("forces_std", atoms)))
    assert results[0][0] == results[1][0]
    for first, second in zip(results[0][1:], results[1][1:]):
        np.testing.assert_array_equal(first, second)
    assert again.posterior.dtype == torch.float64


def test_evidence_picks_the_length_scale_with_the_highest_marginal_likelihood(ethanol_frames):
    train = ethanol_frames[:10]
    chosen = fit_gaussian_process(train, GPConfig(length_scales=(0.5, 8.0)))
    single = {scale: fit_gaussian_process(train, GPConfig(length_scales=(scale,))).hyperparameters["log_likelihood"]
              for scale in (0.5, 8.0)}
    assert chosen.length_scale == max(single, key=single.get)
