"""Neural-wavefunction VMC: physics of the parts (exact H atom, Laplacian, antisymmetry, cusps),
the Hartree–Fock and CASSCF baselines against PySCF, reproducibility, rollback and the command line."""

from __future__ import annotations

import json
from dataclasses import replace

import numpy as np
import pytest
import torch
from ase import Atoms
from pyscf import gto
from torch.func import vmap
from typer.testing import CliRunner

from esml.cli.main import app
from esml.errors import StructureError
from esml.qmc.ansatz import PauliNet
from esml.qmc.blocking import blocking_error
from esml.qmc.config import AnsatzConfig, VMCConfig
from esml.qmc.hamiltonian import kinetic_energy, local_energy
from esml.qmc.orbitals import CI_THRESHOLD, atomic_orbitals, baseline, canonical_orbitals, shell_groups, valence_active_space
from esml.qmc.system import atom, from_atoms
from esml.qmc.vmc import evaluate, log_psi, optimise, start

TINY = VMCConfig(steps=6, batch=32, sweeps=2, equilibration=10, evaluation_steps=4, basis="cc-pvdz",
                 ansatz=AnsatzConfig(width=8, layers=1, gaussians=6, determinants=2, jastrow_width=8))


def random_wavefunction(symbol_or_atoms, seed: int = 0, method: str = "casscf") -> PauliNet:
    """A PauliNet with every weight random, so that tests see all its terms, not the baseline."""
    system = atom(symbol_or_atoms) if isinstance(symbol_or_atoms, str) else from_atoms(symbol_or_atoms)
    torch.manual_seed(seed)
    model = PauliNet(system, baseline(system, method, "cc-pvdz"), TINY.ansatz)
    with torch.no_grad():
        for parameter in model.parameters():
            parameter.add_(0.1 * torch.randn_like(parameter))
    return model


LIH = Atoms("LiH", positions=[[0, 0, 0], [0, 0, 1.595]])


def test_exact_hydrogen_atom_has_zero_variance_local_energy():
    electrons = torch.randn(50, 1, 3, dtype=torch.float64) * 1.5
    energies = local_energy(lambda r: -torch.linalg.norm(r, dim=-1).sum(-1), electrons,
                            torch.zeros(1, 3, dtype=torch.float64), torch.ones(1, dtype=torch.float64), 0.0)
    np.testing.assert_allclose(energies.numpy(), -0.5, atol=1e-10)


def test_gaussians_match_pyscf():
    mol = gto.M(atom="Be 0 0 0; H 0 0 2.5", basis="cc-pvtz", cart=True, unit="bohr", spin=1)
    groups, order = shell_groups(mol)
    points = np.random.default_rng(0).normal(size=(20, 3))
    ours = atomic_orbitals(groups, torch.from_numpy(points), torch.tensor(mol.atom_coords()))
    np.testing.assert_allclose(ours.numpy(), mol.eval_gto("GTOval_cart", points)[:, order], atol=1e-12)


def test_laplacian_matches_finite_differences():
    model = random_wavefunction(LIH)
    electrons = torch.randn(16, 4, 3, dtype=torch.float64, generator=torch.Generator().manual_seed(0))
    kinetic = kinetic_energy(log_psi(model), electrons).detach()
    model.requires_grad_(False)
    gradients = vmap(torch.func.grad(lambda x: model(x)[1]))(electrons)

    def laplacian(configuration, step):
        shifts = step * torch.eye(12, dtype=torch.float64).reshape(12, 4, 3)
        values = vmap(lambda x: model(x)[1])(torch.cat([configuration + shifts, configuration - shifts]))
        return float((values.sum() - 24 * model(configuration)[1]) / step**2)

    def richardson(configuration, step):
        """Central differences with the step² error cancelled."""
        return (4 * laplacian(configuration, step) - laplacian(configuration, 2 * step)) / 3

    # Inside the cusp radius (0.5/Z) the orbitals are only twice differentiable, and near a node of ψ
    # finite differences lose their digits (where that happens depends on the machine's CASSCF
    # orbitals): compare only where two step sizes agree well inside the tolerance, so that the
    # reference itself is trusted (the finer one's error is ~1/16 of their difference).
    to_nuclei = torch.linalg.norm(electrons[:, :, None] - model.nuclei, dim=-1).flatten(1).min(-1).values
    compared = 0
    for configuration, gradient, computed, distance in zip(electrons, gradients, kinetic, to_nuclei):
        fine, coarse = richardson(configuration, 1e-4), richardson(configuration, 2e-4)
        expected = -0.5 * (fine + float((gradient**2).sum()))
        tolerance = 1e-4 * max(1.0, abs(expected))
        if distance < 0.6 or abs(fine - coarse) > 2 * tolerance:
            continue
        assert float(computed) == pytest.approx(expected, rel=0, abs=tolerance)  # a wrong term: O(1)
        compared += 1
    assert compared >= 4


@pytest.mark.parametrize("method", ["casscf", "hf"])
def test_antisymmetric_under_same_spin_exchange_only(method):
    model = random_wavefunction("Be", method=method).requires_grad_(False)  # electrons 0, 1 up; 2, 3 down
    electrons = torch.randn(4, 3, dtype=torch.float64)
    sign, value = model(electrons)
    for first, second in ((0, 1), (2, 3)):
        swapped = electrons.clone()
        swapped[[first, second]] = swapped[[second, first]]
        swapped_sign, swapped_value = model(swapped)
        assert float(swapped_sign) == -float(sign)
        assert float(swapped_value) == pytest.approx(float(value), abs=1e-10)
    mixed = electrons.clone()
    mixed[[0, 2]] = mixed[[2, 0]]
    assert abs(float(model(mixed)[1]) - float(value)) > 1e-6  # up and down are distinguishable


@pytest.mark.parametrize("structure", ["Be", LIH], ids=["Be", "LiH"])
def test_casscf_baseline_is_pyscf_ci_expansion(structure):
    """Before training the ansatz is the CASSCF wavefunction Σ c_IJ det_I(↑) det_J(↓), built here
    independently from PySCF's CI vector and orbitals (LiH has open-shell pairs of determinants)."""
    from pyscf import mcscf, scf
    from pyscf.fci import cistring

    system = atom(structure) if isinstance(structure, str) else from_atoms(structure)
    model = PauliNet(system, baseline(system, "casscf", "cc-pvdz"), TINY.ansatz).requires_grad_(False)
    for head in (model.up_backflow, model.down_backflow):
        head.weight.zero_()
    mol = gto.M(atom=[(z, xyz) for z, xyz in zip(system.charges, system.coordinates)], unit="bohr",
                basis="cc-pvdz", cart=True, verbose=0)
    core, active, electrons = valence_active_space(system)
    cas = mcscf.CASSCF(scf.RHF(mol).run(), active, electrons)
    cas.conv_tol, cas.conv_tol_grad, cas.natorb = 1e-10, 1e-6, True
    cas.run()
    strings = [cistring.gen_occslst(range(active), n) + core for n in electrons]

    def reference(points: np.ndarray) -> float:
        orbitals = mol.eval_gto("GTOval_cart", points) @ cas.mo_coeff[:, :core + active]
        up, down = orbitals[:system.n_up], orbitals[system.n_up:]
        return sum(cas.ci[i, j] * np.linalg.det(up[:, [*range(core), *a]]) * np.linalg.det(down[:, [*range(core), *b]])
                   for i, a in enumerate(strings[0]) for j, b in enumerate(strings[1])
                   if abs(cas.ci[i, j]) >= CI_THRESHOLD)

    rng = np.random.default_rng(0)
    ratios = []
    for _ in range(5):
        points = rng.normal(scale=1.5, size=(system.n_electrons, 3)) + np.array(system.coordinates)[0]
        electrons = torch.from_numpy(points)
        sign, log_abs = model(electrons)
        jastrow = model._electron_cusps(((electrons[:, None] - electrons[None]) ** 2).sum(-1))
        ratios.append(float(sign) * np.exp(float(log_abs - jastrow)) / reference(points))
    # 1e-4: two CASSCF runs agree to about 1e-5; a wrong sign or order of a determinant costs O(1)
    np.testing.assert_allclose(np.abs(ratios), 1.0, rtol=1e-4)  # the CI vector's overall sign is arbitrary
    assert len(set(np.sign(ratios))) == 1


def test_degenerate_orbitals_get_one_fixed_rotation_and_sign():
    """LiH's π pair came out of CASSCF rotated differently in every process; whatever rotation and
    signs PySCF hands over, the baseline's orbitals are the same."""
    system = from_atoms(LIH)
    mol = gto.M(atom=[(z, xyz) for z, xyz in zip(system.charges, system.coordinates)], unit="bohr",
                basis="cc-pvdz", cart=True, verbose=0)
    from pyscf import scf

    mean_field = scf.RHF(mol).run()
    orbitals, energies = mean_field.mo_coeff[:, :6], mean_field.mo_energy[:6]
    assert abs(energies[3] - energies[4]) < 1e-8  # the π pair, empty in Hartree–Fock
    angle = 0.7
    turned = orbitals.copy()
    turned[:, 3] = np.cos(angle) * orbitals[:, 3] + np.sin(angle) * orbitals[:, 4]
    turned[:, 4] = np.sin(angle) * orbitals[:, 3] - np.cos(angle) * orbitals[:, 4]
    turned[:, [0, 2]] *= -1
    np.testing.assert_allclose(canonical_orbitals(mol, turned, energies), canonical_orbitals(mol, orbitals, energies),
                               atol=1e-10)
    kept = canonical_orbitals(mol, orbitals, energies)
    np.testing.assert_allclose(np.abs(kept[:, [0, 1, 2, 5]]), np.abs(orbitals[:, [0, 1, 2, 5]]), atol=1e-12)


def test_cusps_keep_the_local_energy_finite_at_coalescence():
    """Without exact cusps E_L would go like -Z/r (nucleus) or 1/r (electrons) as r -> 0."""
    model = random_wavefunction(LIH)
    nuclei, charges = model.nuclei, model.charges
    base = torch.randn(4, 3, dtype=torch.float64, generator=torch.Generator().manual_seed(1))
    direction = torch.tensor([0.6, 0.0, 0.8], dtype=torch.float64)
    energies = []
    for distance in (1e-5, 1e-6):
        at_nucleus = base.clone()
        at_nucleus[0] = nuclei[0] + distance * direction  # an up electron onto Li (Z = 3)
        pair = base.clone()
        pair[2] = pair[0] + distance * direction  # a down electron onto an up one
        energies.append(local_energy(log_psi(model), torch.stack([at_nucleus, pair]), nuclei, charges, 0.0))
    # A missing cusp would change E_L by ~3e6 (nucleus) and ~1e6 Ha (pair) between the two distances.
    # With the cusps E_L is finite but not flat: it moves linearly with the distance, by up to ~2e3
    # Ha/bohr for these random weights; below ~1e-6 bohr rounding adds noise of ~1e-9/r Ha.
    np.testing.assert_allclose(energies[0].numpy(), energies[1].numpy(), atol=0.5)


def test_blocking_error_sees_correlation():
    rng = np.random.default_rng(0)
    series = np.zeros(4096)
    for index in range(1, len(series)):  # AR(1), correlation time ~ 20 steps
        series[index] = 0.95 * series[index - 1] + rng.normal()
    naive = series.std(ddof=1) / np.sqrt(len(series))
    exact = 1.0 / (1 - 0.95) / np.sqrt(len(series))  # σ_noise / (1 - φ) / √n
    assert blocking_error(series) > 3 * naive
    assert blocking_error(series) == pytest.approx(exact, rel=0.35)


@pytest.mark.parametrize("optimizer", ["sr", "adam"])
def test_tiny_run_is_reproducible(optimizer):
    config = replace(TINY, optimizer=replace(TINY.optimizer, name=optimizer,
                                             learning_rate=0.6 if optimizer == "sr" else 3e-3))
    first = evaluate(optimise(start(atom("He"), config, torch.device("cpu"))))
    second = evaluate(optimise(start(atom("He"), config, torch.device("cpu"))))
    assert first.energy_ha == second.energy_ha
    assert np.isfinite(first.error_ha) and first.variance > 0


def test_non_finite_parameters_roll_back_with_a_smaller_step():
    def poison(run):
        if run.step == 3 and not run.events:
            with torch.no_grad():
                next(run.model.parameters()).fill_(float("nan"))

    run = optimise(start(atom("He"), TINY, torch.device("cpu")), on_step=poison)
    assert len(run.events) == 1 and run.rate_scale == 0.5
    assert run.step == TINY.steps
    assert all(torch.isfinite(parameter).all() for parameter in run.model.parameters())


def test_an_ion_gets_its_own_electron_count():
    from pyscf import scf

    cation = baseline(atom("Li", charge=1), "casscf", "cc-pvdz")  # 1s²: no valence electron, so Hartree–Fock
    expected = scf.RHF(gto.M(atom="Li", charge=1, basis="cc-pvdz", cart=True, verbose=0)).run().e_tot
    assert cation.method == "Hartree–Fock" and cation.energy == pytest.approx(expected, abs=1e-8)
    assert cation.up_columns.shape == cation.down_columns.shape == (1, 1)


def test_bad_systems_are_refused():
    with pytest.raises(StructureError, match="cannot have spin"):
        from_atoms(Atoms("Li"), spin=0)
    with pytest.raises(StructureError, match="H to Ne"):
        from_atoms(Atoms("Na"))
    with pytest.raises(StructureError, match="element symbol"):
        atom("Xx")


def test_command_line_runs_saves_and_resumes(tmp_path):
    out, checkpoint = tmp_path / "he.json", tmp_path / "he.pt"
    arguments = ["vmc", "--atom", "He", "--batch", "16", "--evaluation-steps", "4", "--basis", "cc-pvdz",
                 "--determinants", "1", "--checkpoint", str(checkpoint), "--json", str(out), "--plot",
                 str(tmp_path / "he.png"), "--quiet"]
    result = CliRunner().invoke(app, [*arguments, "--steps", "3"])
    assert result.exit_code == 0, result.output
    report = json.loads(out.read_text())
    assert {"energy_ha", "error_ha", "variance", "steps", "seconds", "energy_ev"} <= set(report)
    assert report["steps"] == 3 and (tmp_path / "he.png").stat().st_size > 0
    result = CliRunner().invoke(app, [*arguments, "--steps", "5", "--resume"])
    assert result.exit_code == 0, result.output
    assert json.loads(out.read_text())["steps"] == 5
    assert len(json.loads(out.read_text())["history"]) == 5


def test_command_line_refuses_bad_input(tmp_path):
    result = CliRunner().invoke(app, ["vmc", "--atom", "Li", "--spin", "0"])
    assert result.exit_code != 0 and "cannot have spin" in str(result.exception)
    result = CliRunner().invoke(app, ["vmc", "--atom", "He", "--resume", "--checkpoint", str(tmp_path / "none.pt")])
    assert result.exit_code != 0 and "not a readable VMC checkpoint" in str(result.exception)
    result = CliRunner().invoke(app, ["vmc", "--atom", "He", "--baseline", "ccsd"])
    assert result.exit_code != 0 and "use casscf or hf" in str(result.exception)


def test_a_time_budget_holds_optimisation_and_evaluation_together():
    """`esml vmc --minutes`: optimising stops in time for the evaluation, and the evaluation itself
    stops at the budget (it once ran 4 min 52 s on a 1-minute budget)."""
    import time

    config = replace(TINY, steps=100_000, evaluation_steps=100_000, max_seconds=3.0)
    run = start(atom("He"), config, torch.device("cpu"))
    started = time.perf_counter()
    run = optimise(run)
    evaluation_started = time.perf_counter()
    evaluation = evaluate(run, seconds=config.max_seconds - run.seconds)
    elapsed = time.perf_counter() - started
    assert 0 < run.step < config.steps and 2 <= evaluation.evaluation_steps < config.evaluation_steps
    # the overshoot is counted in steps (a loaded machine makes every step slower): at most one step of
    # each stage past the budget, and the evaluation's two obligatory steps
    evaluation_step = (time.perf_counter() - evaluation_started) / evaluation.evaluation_steps
    overshoot = run.seconds / run.step + 2 * evaluation_step
    assert run.seconds < config.max_seconds and elapsed < config.max_seconds + 1.0 + overshoot
