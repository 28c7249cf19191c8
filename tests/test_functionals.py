"""Learned exchange–correlation functionals (issue #8): exact limits, PySCF integration, forces,
response, training on fixed densities, method strings, and bad input."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from ase.build import molecule
from pyscf import dft, gto

from esml.errors import EsmlError, MethodError
from esml.functionals import semilocal
from esml.functionals.fixed_density import Stack, TrainConfig, fixed_density, train
from esml.functionals.model import EXCHANGE_KEYS, LearnedXC, XCConfig, describe, load, save
from esml.functionals.numint import evaluate, learned_kohn_sham, nuclear_gradient
from esml.functionals.reference import experimental_atomization_kcal, g2_atoms, molecule_names
from esml.functionals.scf import molecule_of, solve
from esml.functionals.training_set import split

WATER = "O 0 0 0.1173; H 0 0.7572 -0.4692; H 0 -0.7572 -0.4692"
# libxc's twin of an untrained range-separated model (ω = 0.3, a quarter of short-range exact exchange)
LC_ITYH_PBE = "SR_HF(0.3)*0.25 + LR_HF(0.3) + 0.75*GGA_X_ITYH_PBE, PBE"


def perturbed(config: XCConfig = XCConfig(), seed: int = 0) -> LearnedXC:
    """A functional whose networks are far from PBE (the zero-initialised last layers randomised)."""
    torch.manual_seed(seed)
    model = LearnedXC(config)
    with torch.no_grad():
        for network in (model.exchange, model.correlation):
            network[-1].weight.normal_(0.0, 0.5)
            network[-1].bias.normal_(0.0, 0.3)
    return model


def random_densities(n: int, seed: int = 0) -> torch.Tensor:
    """Per-spin [ρ, ∇ρ, τ] on n points, τ ≥ τ_W so that β ≥ 0 as for real orbitals."""
    generator = torch.Generator().manual_seed(seed)
    density = 10 ** (torch.rand(2, n, generator=generator, dtype=torch.float64) * 8 - 6)
    gradient = torch.randn(2, 3, n, generator=generator, dtype=torch.float64) * density[:, None] * 2
    weizsaecker = (gradient**2).sum(1) / (8 * density)
    tau = weizsaecker + torch.rand(2, n, generator=generator, dtype=torch.float64) * density ** (5 / 3) * 5
    return torch.cat([density[:, None], gradient, tau[:, None]], 1)


def test_untrained_functional_is_pbe_self_consistently():
    mol = gto.M(atom=WATER, basis="def2-svp", verbose=0)
    reference = dft.RKS(mol, xc="pbe").run(conv_tol=1e-11)
    learned = learned_kohn_sham(mol, LearnedXC(XCConfig(exact_exchange=False))).run(conv_tol=1e-11)
    assert learned.e_tot == pytest.approx(reference.e_tot, abs=1e-8)
    gradients = learned.nuc_grad_method().kernel() - reference.nuc_grad_method().kernel()
    assert np.abs(gradients).max() < 1e-7


def test_untrained_hybrid_is_pbe0_for_open_shells():
    mol = gto.M(atom="O 0 0 0; H 0 0 0.97", basis="def2-svp", spin=1, verbose=0)
    reference = dft.UKS(mol, xc="pbe0").run(conv_tol=1e-11)
    learned = learned_kohn_sham(mol, LearnedXC())
    assert learned.energy_tot(reference.make_rdm1()) == pytest.approx(reference.e_tot, abs=1e-8)


@pytest.mark.parametrize("omega", [0.0, 0.3], ids=["global", "range-separated"])
def test_exact_constraints_on_random_densities(omega):
    model = perturbed(XCConfig(range_separation=omega))
    rho = random_densities(4000)
    features = describe(rho)
    with torch.no_grad():
        for spin in ("up", "down"):
            exchange = model.exchange_energy(*(features[f"{key}_{spin}"] for key in EXCHANGE_KEYS))
            enhancement = exchange / features[f"lda_exchange_{spin}"]
            # never less exchange than the uniform gas (at short range: some, the rest is exact)
            assert enhancement.min() >= (1.0 - 1e-12 if omega == 0 else 0.0)
            assert enhancement.max() <= 1.0 + semilocal.KAPPA + 1e-12  # local Lieb–Oxford bound
        correlation = model.correlation_energy(features)
        assert (correlation <= 0).all()  # correlation keeps its sign
        assert (correlation >= 2 * features["pbe_correlation"]).all()


@pytest.mark.parametrize("omega", [0.0, 0.3], ids=["global", "range-separated"])
def test_uniform_gas_and_spin_scaling_hold_for_any_parameters(omega):
    model = perturbed(XCConfig(range_separation=omega))
    n = torch.tensor([1e-3, 0.1, 1.0, 30.0], dtype=torch.float64)
    zero = torch.zeros(3, 4, dtype=torch.float64)
    uniform_tau = 0.3 * (3 * math.pi**2) ** (2 / 3) * (n / 2) ** (5 / 3) * 2 ** (2 / 3)  # per spin, β = ½
    uniform = torch.stack([torch.cat([(n / 2)[None], zero, uniform_tau[None]])] * 2)
    with torch.no_grad():
        # the uniform gas's (short-range) exchange: libxc's LDA_X_ERF at ω, plain LDA at ω = 0
        exchange = torch.from_numpy(dft.libxc.eval_xc("LDA_X_ERF" if omega else "LDA_X", n.numpy(), deriv=0,
                                                      omega=omega or None)[0]) * n
        rs = (3 / (4 * math.pi * n)) ** (1 / 3)
        correlation = n * semilocal.correlation_lda(rs, torch.zeros_like(n))
        expected = (1 - model.exact_exchange_fraction) * exchange + correlation
        assert torch.allclose(model(uniform), expected, rtol=1e-12)
        # E_x[ρ↑, ρ↓] = ½ (E_x[2ρ↑] + E_x[2ρ↓]): a polarised point equals its spins doubled.
        rho = random_densities(50, seed=1)
        features, up, down = describe(rho), describe(torch.stack([rho[0], rho[0]])), describe(torch.stack([rho[1], rho[1]]))
        exchange = model.semilocal_exchange
        assert torch.allclose(exchange(features), 0.5 * (exchange(up) + exchange(down)), rtol=1e-12)


@pytest.mark.parametrize("spin", [0, 1])
def test_untrained_range_separated_functional_is_libxc_ityh_pbe_hybrid(spin):
    """ω = 0.3 with a quarter of exact exchange at short range and all of it at long range, against
    libxc's own ITYH-screened PBE exchange: the screening, its local Fermi momentum and the range
    split handed to PySCF (energies and analytic gradients, closed and open shell)."""
    atoms = WATER if spin == 0 else "O 0 0 0; H 0 0.76 0.59"
    mol = gto.M(atom=atoms, basis="def2-svp", spin=spin, verbose=0)
    reference = dft.KS(mol, xc=LC_ITYH_PBE).run(conv_tol=1e-11)
    learned = learned_kohn_sham(mol, LearnedXC(XCConfig(range_separation=0.3))).run(conv_tol=1e-11)
    assert learned.e_tot == pytest.approx(reference.e_tot, abs=1e-9)
    gradients = learned.nuc_grad_method().kernel() - reference.nuc_grad_method().kernel()
    assert np.abs(gradients).max() < 1e-7


@pytest.mark.parametrize("omega", [0.0, 0.3], ids=["global", "range-separated"])
def test_vanishing_density_gives_zero_energy_and_finite_derivatives(omega):
    rho = np.zeros((2, 5, 6))
    rho[0, 0, :3] = [1e-30, 1e-14, 1e-3]  # empty, negligible and real points; the other spin is empty
    rho[0, 4, 2] = 1e-3
    exc, vxc, fxc, _ = evaluate(perturbed(XCConfig(range_separation=omega)), rho, deriv=2)
    assert np.isfinite(exc).all() and np.isfinite(vxc).all() and np.isfinite(fxc).all()
    assert exc[0] == 0.0 and exc[3] == 0.0 and exc[2] < 0.0


def test_analytic_forces_of_the_shipped_functional_match_finite_differences():
    """esml-xc3: a trained meta-GGA (grid-weight response) and range separation (long-range K)."""
    from esml.functionals.shipped import SHIPPED

    model, _ = load(SHIPPED["esml-xc3"])
    atoms = molecule("H2O")
    atoms.positions[1] += [0.05, 0.0, 0.03]  # away from symmetry, so every component is tested

    def energy(displaced) -> float:
        mean_field = learned_kohn_sham(molecule_of(displaced, "def2-svp"), model)
        mean_field.conv_tol = 1e-12
        return mean_field.kernel()

    mean_field = learned_kohn_sham(molecule_of(atoms, "def2-svp"), model)
    mean_field.conv_tol = 1e-12
    mean_field.kernel()
    gradient = nuclear_gradient(mean_field)  # Ha/Bohr
    step = 1e-3  # Bohr
    for atom, axis in [(0, 2), (1, 0), (1, 2), (2, 1)]:
        shifted = []
        for sign in (1, -1):
            displaced = atoms.copy()
            displaced.positions[atom, axis] += sign * step * 0.52917721092
            shifted.append(energy(displaced))
        assert gradient[atom, axis] == pytest.approx((shifted[0] - shifted[1]) / (2 * step), abs=1e-5)


@pytest.mark.parametrize("config, libxc", [(XCConfig(exact_exchange=False), "pbe"),
                                           (XCConfig(range_separation=0.3), LC_ITYH_PBE)], ids=["pbe", "range-separated"])
def test_response_of_an_untrained_functional_matches_its_libxc_twin_tda(config, libxc):
    mol = gto.M(atom=WATER, basis="sto-3g", verbose=0)
    reference = dft.RKS(mol, xc=libxc).run(conv_tol=1e-11)
    learned = learned_kohn_sham(mol, LearnedXC(config)).run(conv_tol=1e-11)
    expected = reference.TDA().run(nstates=3).e
    assert np.allclose(learned.TDA().run(nstates=3).e, expected, atol=1e-8)


@pytest.mark.parametrize("omega", [0.0, 0.3], ids=["global", "range-separated"])
def test_fixed_density_energies_reproduce_the_scf_and_training_lowers_the_loss(omega):
    model = LearnedXC(XCConfig(range_separation=omega))
    states = [fixed_density(name, g2_atoms(name), model, "def2-svp", grid_level=1) for name in ("H", "O", "OH", "H2O")]
    stack = Stack(states)  # H2O is closed shell: one spin kept, twice the weight
    for state, energy in zip(states, stack.energies(model).detach()):
        mean_field, _ = solve(molecule_of(g2_atoms(state.name), "def2-svp"), model, grid_level=1)
        assert float(energy) == pytest.approx(mean_field.e_tot, abs=1e-5)
    composition = {"OH": ["O", "H"], "H2O": ["O", "H", "H"]}
    losses = train(model, stack, composition, {"OH": 106.4, "H2O": 232.6}, {"H": -0.5},
                   TrainConfig(iterations=5))
    assert losses[-1] < losses[0]
    assert next(model.parameters()).dtype == torch.float64  # back in double for self-consistent use


def test_save_and_load_round_trip_and_bad_files(tmp_path):
    model = perturbed()
    path = tmp_path / "xc.pt"
    save(model, path, {"note": "test"})
    loaded, metadata = load(path)
    rho = random_densities(20)
    with torch.no_grad():
        assert torch.equal(loaded(rho), model(rho))
    assert metadata == {"note": "test"}
    with pytest.raises(EsmlError, match="no such functional file"):
        load(tmp_path / "missing.pt")
    (tmp_path / "junk.pt").write_text("not a model")
    with pytest.raises(EsmlError, match="not an esml functional"):
        load(tmp_path / "junk.pt")


def test_method_string_runs_a_learned_functional_through_esml_qm(tmp_path):
    from esml.methods import parse_method
    from esml.qm import calculator

    path = tmp_path / "Models" / "xc.pt"
    save(perturbed(), path)
    spec = parse_method(f"xc:{path}/def2-SVP")
    assert spec.is_learned and spec.basis == "def2-svp" and spec.name == f"xc:{path}"
    atoms = molecule("H2O")
    atoms.calc = calculator(f"xc:{path}/def2-svp", density_fit=True)
    forces = atoms.get_forces()
    assert np.isfinite(atoms.get_potential_energy()) and forces.shape == (3, 3)
    assert np.abs(forces.sum(0)).max() < 1e-3  # no net force
    with pytest.raises(MethodError, match="no functional file"):
        parse_method("xc:/nowhere/xc.pt/def2-svp")
    with pytest.raises(MethodError, match="dispersion"):
        parse_method(f"xc:{path}/def2-svp", dispersion="d3bj")


def test_a_basis_without_an_element_is_refused_in_one_line():
    from esml.errors import StructureError

    atoms = molecule("H2O")
    atoms.info["name"] = "water"
    with pytest.raises(StructureError, match="water: basis 'def2-qzvp-nonexistent' unusable"):
        molecule_of(atoms, "def2-qzvp-nonexistent")


def test_reference_set_split_and_experiment():
    names = molecule_names()
    assert len(names) == 59
    parts = split()
    assert not set(parts["train"]) & set(parts["heldout"]) and len(parts["heldout"]) == 20
    assert set(parts["train"]) | set(parts["heldout"]) == set(names)
    assert experimental_atomization_kcal("H2O") == pytest.approx(232.6, abs=0.1)  # De of water
    assert g2_atoms("O2").info["multiplicity"] == 3


def test_evaluation_scores_an_untrained_hybrid_like_pbe0():
    from esml.functionals.evaluation import evaluate
    from esml.functionals.training_set import reference_atomization_kcal

    report = evaluate(LearnedXC(), ["H2"], basis="def2-svp", baselines=("pbe0",))
    model, pbe0 = report["functionals"]["model"], report["functionals"]["pbe0"]
    assert report["species"] == ["H", "H2"]
    assert model["atomization_kcal"]["H2"] == pytest.approx(pbe0["atomization_kcal"]["H2"], abs=1e-5)
    assert model["mae_atomization_kcal"] == pytest.approx(
        abs(model["atomization_kcal"]["H2"] - reference_atomization_kcal(["H2"])["H2"]))
    assert model["H2+@5_error_kcal"] == pytest.approx(pbe0["H2+@5_error_kcal"], abs=1e-5)
    assert model["H2+@5_error_kcal"] < -10  # PBE0 keeps most of PBE's delocalisation error
    assert model["scf_converged_fraction"] == pbe0["scf_converged_fraction"] == 1.0
    assert model["scf_second_order"] == pbe0["scf_second_order"] == []


def test_ionisation_potentials_are_scored_against_the_cation_references():
    from esml.functionals.evaluation import evaluate
    from esml.units import HARTREE_TO_EV

    cation = g2_atoms("CH4+")
    assert (cation.info["charge"], cation.info["multiplicity"]) == (1, 2)
    assert np.allclose(cation.positions, g2_atoms("CH4").positions)
    report = evaluate(LearnedXC(), ["CH4"], basis="def2-svp", baselines=("pbe0",))
    assert report["species"] == ["C", "C+", "CH4", "CH4+", "H"]
    model, pbe0 = report["functionals"]["model"], report["functionals"]["pbe0"]
    energies = model["energies_ha"]
    assert model["ionization_ev"]["CH4"] == pytest.approx((energies["CH4+"] - energies["CH4"]) * HARTREE_TO_EV)
    assert model["ionization_ev"] == pytest.approx(pbe0["ionization_ev"], abs=1e-3)  # untrained: PBE0
    errors = [model["ionization_ev"][n] - report["reference_ionization_ev"][n] for n in ("C", "CH4")]
    assert model["mae_ionization_ev"] == pytest.approx(np.mean(np.abs(errors)))
    # vertical CCSD(T)/CBS against the experimental (adiabatic) IP: equal for an atom
    assert report["reference_ionization_ev"]["C"] == pytest.approx(report["experimental_ionization_ev"]["C"], abs=0.1)
    assert 10 < model["ionization_ev"]["CH4"] < 16


@pytest.mark.parametrize("name, omega", [("esml-xc1", 0.0), ("esml-xc2", 0.3), ("esml-xc3", 0.3)])
def test_the_shipped_functionals_run_by_name_in_method_strings(name, omega):
    from esml.functionals.shipped import SHIPPED
    from esml.methods import parse_method
    from esml.qm import calculator
    from esml.units import HARTREE_TO_EV

    spec = parse_method(f"{name}/def2-svp")
    assert spec.is_learned and f"{name}@" in spec.code_version()
    model, metadata = load(SHIPPED[name])
    assert 0.0 < float(model.exact_exchange_fraction.detach()) < 1.0
    assert model.config.range_separation == omega
    assert set(metadata["training"]["molecules"]) <= set(split()["train"])
    atoms = molecule("H2")
    atoms.calc = calculator(f"{name}/def2-svp", density_fit=True)
    direct, _ = solve(molecule_of(atoms, "def2-svp"), model)
    assert atoms.get_potential_energy() == pytest.approx(direct.e_tot * HARTREE_TO_EV, abs=1e-5)
