"""Physics of every potential: forces are gradients, energies are invariant, cells are extensive."""

import numpy as np
import pytest
import torch
from ase import Atoms
from ase.build import bulk, molecule
from ase.calculators.fd import calculate_numerical_forces, calculate_numerical_stress

from esml.calculator import PotentialCalculator
from esml.errors import EsmlError, StructureError
from esml.potentials import ANIPotential, CGCNNPotential, Ensemble, PaiNNPotential, ensemble_of, load, save
from esml.potentials.mace import MACEPotential

SMALL = {"ani": dict(hidden={1: [16, 8], 6: [16, 8], 8: [16, 8], 14: [16, 8]}), "painn": dict(features=16, layers=2),
         "cgcnn": dict(features=16, layers=2, n_basis=12),
         "mace": dict(features=4, layers=2, l_max=2, correlation=3, n_basis=4, radial_hidden=8, readout_hidden=4)}
FAMILY = {"ani": ANIPotential, "painn": PaiNNPotential, "cgcnn": CGCNNPotential, "mace": MACEPotential}
#: e3nn divides every weight by the square root of its fan-in, so its natural weights are of order one
WEIGHT_SCALE = {"mace": 1.0}


def make(kind: str, species=(1, 6, 8), seed: int = 0, **extra):
    torch.manual_seed(seed)
    potential = FAMILY[kind](list(species), **SMALL[kind], **extra)
    for parameter in potential.parameters():  # untrained output layers are zero; give every weight a value
        torch.nn.init.normal_(parameter, std=WEIGHT_SCALE.get(kind, 0.1))
    return potential


def float64_calculator(potential):
    return PotentialCalculator(potential, dtype=torch.float64)


@pytest.fixture
def ethanol():
    atoms = molecule("CH3CH2OH")
    atoms.rattle(0.05, seed=1)
    return atoms


KINDS = ["ani", "painn", "cgcnn", "mace"]


@pytest.mark.parametrize("kind", KINDS)
def test_forces_are_the_negative_gradient_of_the_energy(kind, ethanol):
    ethanol.calc = float64_calculator(make(kind))
    forces = ethanol.get_forces()
    assert np.abs(forces).max() > 1e-3
    np.testing.assert_allclose(forces, calculate_numerical_forces(ethanol, 1e-4), rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("kind", KINDS)
def test_energy_is_invariant_under_rotation_translation_and_permutation(kind, ethanol):
    calc = float64_calculator(make(kind))
    ethanol.calc = calc
    energy, forces = ethanol.get_potential_energy(), ethanol.get_forces()
    moved = ethanol.copy()
    moved.rotate(73, (1, -2, 0.5), center="COM")
    moved.translate((3.0, -1.0, 7.0))
    moved.calc = calc
    assert moved.get_potential_energy() == pytest.approx(energy, abs=1e-10)
    rotation = np.linalg.lstsq(ethanol.positions - ethanol.positions.mean(0), moved.positions - moved.positions.mean(0), rcond=None)[0]
    np.testing.assert_allclose(moved.get_forces(), forces @ rotation, atol=1e-8)  # forces rotate with the molecule
    order = np.random.default_rng(3).permutation(len(ethanol))
    shuffled = ethanol[order]
    shuffled.calc = calc
    assert shuffled.get_potential_energy() == pytest.approx(energy, abs=1e-10)
    np.testing.assert_allclose(shuffled.get_forces(), forces[order], atol=1e-10)


@pytest.mark.parametrize("kind", KINDS)
def test_a_cell_and_its_supercell_have_the_same_energy_per_atom_and_stress(kind):
    silicon = bulk("Si", "diamond", a=5.43)
    silicon.rattle(0.05, seed=2)
    silicon.calc = float64_calculator(make(kind, species=(14,)))
    supercell = silicon.repeat((2, 2, 2))
    supercell.calc = silicon.calc
    assert abs(silicon.get_potential_energy() / 2 - supercell.get_potential_energy() / 16) < 1e-6
    np.testing.assert_allclose(supercell.get_stress(), silicon.get_stress(), atol=1e-8)
    np.testing.assert_allclose(silicon.get_stress(), calculate_numerical_stress(silicon, 1e-5), atol=1e-7)


@pytest.mark.parametrize("kind", KINDS)
def test_save_then_load_predicts_the_same(kind, ethanol, tmp_path):
    potential = make(kind, self_energies=[-13.6, -1029.0, -2041.0], energy_scale=0.7)
    save(potential, tmp_path / "model.pt")
    ethanol.calc = PotentialCalculator(potential)
    copy = ethanol.copy()
    copy.calc = PotentialCalculator(load(tmp_path / "model.pt"))
    assert copy.get_potential_energy() == ethanol.get_potential_energy()
    np.testing.assert_array_equal(copy.get_forces(), ethanol.get_forces())


def test_ani_ensemble_is_the_mean_of_its_members_and_reports_their_spread(ethanol):
    members = [make("ani", seed=k) for k in range(3)]
    stacked = ensemble_of(members)
    assert isinstance(stacked, ANIPotential) and stacked.n_members == 3  # fused into one batched model
    energies, forces = [], []
    for member in members:
        ethanol.calc = float64_calculator(member)
        energies.append(ethanol.get_potential_energy())
        forces.append(ethanol.get_forces())
    ethanol.calc = float64_calculator(stacked)
    assert ethanol.get_potential_energy() == pytest.approx(np.mean(energies), abs=1e-9)
    assert ethanol.calc.get_property("energy_std", ethanol) == pytest.approx(np.std(energies, ddof=1), abs=1e-9)
    np.testing.assert_allclose(ethanol.get_forces(), np.mean(forces, axis=0), atol=1e-9)
    np.testing.assert_allclose(ethanol.calc.get_property("forces_std", ethanol), np.std(forces, axis=0, ddof=1), atol=1e-9)


def test_generic_ensemble_of_painn_models_matches_its_members(ethanol, tmp_path):
    members = [make("painn", seed=k) for k in range(2)]
    ensemble = ensemble_of(members)
    assert isinstance(ensemble, Ensemble)
    save(ensemble, tmp_path / "ensemble.pt")
    loaded = load(tmp_path / "ensemble.pt")
    assert loaded.n_members == 2
    ethanol.calc = float64_calculator(loaded)
    energy = ethanol.get_potential_energy()
    expected = []
    for member in members:
        copy = ethanol.copy()
        copy.calc = float64_calculator(member)
        expected.append(copy.get_potential_energy())
    assert energy == pytest.approx(np.mean(expected), abs=1e-9)


@pytest.mark.parametrize("kind", KINDS)
def test_an_element_the_model_never_saw_is_an_error_naming_it(kind):
    atoms = molecule("CH3Cl")
    atoms.calc = PotentialCalculator(make(kind))
    with pytest.raises(StructureError, match="not trained on Cl"):
        atoms.get_potential_energy()


def test_overlapping_atoms_and_nan_positions_are_refused():
    calc = PotentialCalculator(make("ani"))
    overlapping = Atoms("OH2", positions=[(0, 0, 0), (0.1, 0, 0), (0, 0.96, 0)])
    overlapping.calc = calc
    with pytest.raises(StructureError, match="atoms 0 and 1 overlap"):
        overlapping.get_potential_energy()
    broken = molecule("H2O")
    broken.positions[1, 0] = np.nan
    broken.calc = calc
    with pytest.raises(StructureError, match="NaN"):
        broken.get_potential_energy()


def test_stress_of_a_molecule_is_not_implemented(ethanol):
    from ase.calculators.calculator import PropertyNotImplementedError

    ethanol.calc = PotentialCalculator(make("ani"))
    with pytest.raises(PropertyNotImplementedError):
        ethanol.get_stress()


def test_mace_sees_angles_in_one_layer_from_correlation_order_two(ethanol):
    """With one layer and correlation order 1 an atom's energy depends on its neighbours' distances
    only; from order 2 on, the products of the atomic basis see the angle between two bonds."""

    def energy_change_of_a_bend(correlation: int) -> float:
        torch.manual_seed(0)
        potential = MACEPotential([1, 8], features=4, layers=1, correlation=correlation, n_basis=4, radial_hidden=8,
                                  readout_hidden=4, cutoff=1.2)  # H–H (≥ 1.5 Å) is outside: only the O–H bonds remain
        for parameter in potential.parameters():
            torch.nn.init.normal_(parameter, std=1.0)
        calculator = float64_calculator(potential)
        energies = []
        for angle in (100, 120):  # the bond lengths stay 1 Å; only the H–O–H angle changes
            water = Atoms("OH2", [(0, 0, 0), (1.0, 0, 0), (np.cos(np.radians(angle)), np.sin(np.radians(angle)), 0)])
            water.calc = calculator
            energies.append(water.get_potential_energy())
        return abs(energies[1] - energies[0])

    assert energy_change_of_a_bend(1) < 1e-12  # round-off
    assert energy_change_of_a_bend(2) > 1e-8
    assert energy_change_of_a_bend(3) > 1e-8


def test_a_copied_mace_model_has_the_keys_of_the_original():
    import copy

    original = make("mace")
    clone = copy.deepcopy(original)
    assert set(clone.state_dict()) == set(original.state_dict())
    assert all(torch.equal(clone.state_dict()[key], value) for key, value in original.state_dict().items())


def test_reference_energies_stay_double_precision_in_a_single_precision_model():
    """An aspirin-sized sum of references (−17,600 eV) in float32 would be off by about a meV."""
    potential = make("ani", self_energies=[-13.587, -1029.1234567, -2041.7654321]).to(torch.float32)
    assert potential.self_energies.dtype == torch.float64 and potential.energy_scale.dtype == torch.float64
    assert potential.self_energies.tolist() == [-13.587, -1029.1234567, -2041.7654321]
    assert next(potential.parameters()).dtype == torch.float32


def test_the_symmetric_contraction_is_the_coupled_product_of_the_basis_and_rotates_with_it():
    """The folded contraction (one term per monomial) equals the coupling applied to the full outer
    powers A ⊗ … ⊗ A, path by path, and rotating each channel's A rotates the output irreps."""
    from e3nn import o3

    from esml.potentials.mace import SymmetricContraction, symmetric_coupling

    torch.manual_seed(0)
    irreps_out, channels, correlation = o3.Irreps("3x0e+3x1o"), 3, 3
    contraction = SymmetricContraction(2, channels, irreps_out, correlation, n_species=2).double()  # couplings stay exact
    basis = torch.randn(4, channels, 9, dtype=torch.float64)
    onehot = torch.nn.functional.one_hot(torch.tensor([0, 1, 1, 0]), 2).double()
    expected = []
    for index, (_, irrep) in enumerate(irreps_out):
        total = 0.0
        for order in range(1, correlation + 1):
            irreps, change = symmetric_coupling(2, order, "0e+1o")
            paths = torch.cat([change[irreps.slices()[k]].reshape(copies, irrep.dim, *change.shape[1:])
                               for k, (copies, other) in enumerate(irreps) if other == irrep])
            power = basis
            for _ in range(order - 1):
                power = (power.unsqueeze(-1) * basis.reshape(4, channels, *[1] * (power.dim() - 2), 9))
            coupled = torch.einsum("pm...,nc...->ncmp", paths, power)
            weights = contraction.weights[(order - 1) * len(irreps_out) + index]
            total = total + torch.einsum("ncmp,nz,zpc->ncm", coupled, onehot, weights)
        expected.append(total.reshape(4, -1))
    output = contraction(basis, onehot)
    assert torch.allclose(output, torch.cat(expected, dim=1), atol=1e-12)

    previous = torch.get_default_dtype()
    torch.set_default_dtype(torch.float64)  # e3nn builds Wigner matrices in the default precision
    try:
        rotation = o3.rand_matrix()
        rotate_in, rotate_out = o3.Irreps("0e+1o+2e").D_from_matrix(rotation), irreps_out.D_from_matrix(rotation)
    finally:
        torch.set_default_dtype(previous)
    assert torch.allclose(contraction(basis @ rotate_in.T, onehot), output @ rotate_out.T, atol=1e-12)


def test_a_model_file_whose_weights_do_not_fit_the_family_is_refused_in_one_line(tmp_path):
    """A file written before a family's layout changed (another esml) names the problem, not a torch error."""
    path = tmp_path / "old.pt"
    save(make("mace"), path)
    payload = torch.load(path, weights_only=True)
    payload["state"]["an_old_weight"] = torch.zeros(3)
    torch.save(payload, path)
    with pytest.raises(EsmlError, match="do not fit this esml's mace model.*train it again"):
        load(path)
