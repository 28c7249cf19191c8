"""Normal modes, infrared intensities and VPT2: against PySCF's analytic IR, an exact solution of
the vibrational Schrödinger equation, and published VPT2 results of CFOUR (water) and PyVPT2
(formaldehyde) on the HF/6-31G* surface."""

import itertools
import warnings
from dataclasses import replace

import numpy as np
import pytest
from ase import Atoms
from ase.build import molecule
from ase.calculators.singlepoint import SinglePointCalculator

from esml.methods import parse_method
from esml.qm.engine import ReferenceCalculator, reference_calculator
from esml.simulate.relax import optimise
from esml.simulate.vibrations import harmonic_modes
from esml.spectra.vpt2 import QuarticForceField, VPT2Settings, quartic_force_field, vpt2


def tight(method: str) -> ReferenceCalculator:
    """A PySCF calculator converged far enough for nested finite differences."""
    return ReferenceCalculator(replace(parse_method(method), scf_tolerance=1e-12))


def test_rigid_motions_are_projected_out_and_a_linear_molecule_keeps_3n_minus_5_modes():
    calc = reference_calculator("gfn2-xtb")
    for name, count in (("H2O", 3), ("CO2", 4), ("CH4", 9)):
        modes, _ = harmonic_modes(optimise(molecule(name), calc, fmax=1e-4), calc)
        assert len(modes.wavenumbers) == count and modes.wavenumbers.min() > 300
        np.testing.assert_allclose(modes.vectors.T @ modes.vectors, np.eye(count), atol=1e-12)


def test_infrared_intensities_equal_pyscfs_analytic_ones():
    with warnings.catch_warnings():  # pyscf-properties warns that its modules are "under testing"
        warnings.simplefilter("ignore")
        from pyscf.prop.infrared import rhf as pyscf_infrared
    import pyscf

    calc = tight("hf/6-31g")
    water = optimise(Atoms("OH2", [[0, 0, 0.117], [-0.757, 0, -0.470], [0.757, 0, -0.470]]), calc, fmax=1e-5)
    modes, derivatives = harmonic_modes(water, calc, dipole=True)
    mol = pyscf.M(atom=list(zip(water.get_chemical_symbols(), water.positions)), basis="6-31g", verbose=0)
    mean_field = mol.RHF()
    mean_field.conv_tol = 1e-12
    mean_field.kernel()
    analytic = pyscf_infrared.Infrared(mean_field).run()
    np.testing.assert_allclose(modes.wavenumbers, analytic.vib_dict["freq_wavenumber"], atol=0.5)
    np.testing.assert_allclose(modes.intensities(derivatives.dipole), analytic.ir_inten, rtol=1e-3)


def exact_fundamentals(omega: np.ndarray, cubic: np.ndarray, quartic: np.ndarray, quanta: int = 8) -> np.ndarray:
    """Fundamentals of H = Σ ω(p² + q²)/2 + ⅙ Σ φ_ijk qqq + 1/24 Σ φ_iijj q²q² by diagonalising it in a
    product basis of harmonic-oscillator states (8 per mode: converged to 1e-6 cm⁻¹ here)."""
    n = len(omega)
    ladder = np.diag(np.sqrt(np.arange(1, quanta)), 1)
    q1 = (ladder + ladder.T) / np.sqrt(2)

    def on(mode: int, operator: np.ndarray) -> np.ndarray:
        result = np.eye(1)
        for m in range(n):
            result = np.kron(result, operator if m == mode else np.eye(quanta))
        return result

    q = [on(m, q1) for m in range(n)]
    hamiltonian = sum(omega[m] * on(m, np.diag(np.arange(quanta) + 0.5)) for m in range(n))
    for i, j, k in itertools.product(range(n), repeat=3):
        hamiltonian = hamiltonian + cubic[i, j, k] / 6 * q[i] @ q[j] @ q[k]
    for i, j in itertools.product(range(n), repeat=2):
        orderings = 1 if i == j else 3  # of (i, i, j, j) among the 24 index orders, over both (i, j) and (j, i)
        hamiltonian = hamiltonian + orderings * quartic[i, j] / 24 * q[i] @ q[i] @ q[j] @ q[j]
    levels = np.linalg.eigvalsh(hamiltonian)
    levels = levels - levels[0]
    # each fundamental is the level nearest its harmonic value: the anharmonicity here is far below the spacing
    return np.array([levels[np.argmin(np.abs(levels - w))] for w in omega])


@pytest.mark.parametrize("omega", [[1100.0, 1650.0, 3050.0], [1100.0, 1650.0, 2820.0]], ids=["far", "near-Fermi"])
def test_vpt2_is_second_order_perturbation_theory_of_the_exact_levels(omega):
    omega = np.array(omega)
    rng = np.random.default_rng(0)
    raw = rng.normal(0, 250, (3, 3, 3))
    cubic = sum(np.transpose(raw, order) for order in itertools.permutations(range(3))) / 6
    quartic = rng.normal(0, 30, (3, 3))
    quartic = quartic + quartic.T
    errors, shifts = [], []
    for scale in (0.5, 0.25):  # VPT2 misses fourth-order terms: the error falls 16-fold when φ_ijk halves
        field = QuarticForceField(omega, scale * cubic, scale**2 * quartic, np.zeros((3, 3, 3)), np.zeros(3))
        result = vpt2(field, VPT2Settings(fermi_window=0))
        exact = exact_fundamentals(omega, scale * cubic, scale**2 * quartic)
        errors.append(np.abs(result.fundamentals - exact).max())
        shifts.append(np.abs(exact - omega).max())
    assert errors[1] < errors[0] / 8 and errors[1] < 0.1 * shifts[1]


def test_vpt2_of_water_reproduces_cfour_on_the_hf_6_31gs_surface():
    calc = tight("hf/6-31g*")
    water = optimise(Atoms("OH2", [[0, 0, 0.117], [-0.757, 0, -0.470], [0.757, 0, -0.470]]), calc, fmax=1e-5)
    modes, derivatives = harmonic_modes(water, calc)
    result = vpt2(quartic_force_field(modes, derivatives.hessian, calc))
    # CFOUR's ν − ω for the bend, symmetric and antisymmetric stretch (PyVPT2's tests/test_h2o.py).
    # ω itself differs by up to 4 cm⁻¹: PySCF's 6-31G* minimum is not Psi4's.
    np.testing.assert_allclose(result.fundamentals - result.harmonic, [-54.0635, -158.2345, -177.9707], atol=0.1)
    assert result.resonances == ()


@pytest.mark.slow
def test_generalised_vpt2_of_formaldehyde_treats_its_fermi_resonance_as_pyvpt2_does():
    calc = tight("hf/6-31g*")
    angle, co, ch = np.radians(122.14), 1.1843, 1.0915
    start = Atoms("COH2", [[0, 0, 0], [0, 0, co], [ch * np.sin(angle), 0, ch * np.cos(angle)], [-ch * np.sin(angle), 0, ch * np.cos(angle)]])
    modes, derivatives = harmonic_modes(optimise(start, calc, fmax=1e-5), calc)
    result = vpt2(quartic_force_field(modes, derivatives.hessian, calc))
    # PyVPT2's tests/test_h2co.py: deperturbed ν − ω, then with the ν5 ≈ ν3 + ν6 resonance diagonalised
    np.testing.assert_allclose(result.deperturbed - result.harmonic,
                               [-17.4496, -18.9212, -33.1555, -25.5869, -142.8295, -184.5589], atol=0.1)
    np.testing.assert_allclose(result.fundamentals - result.harmonic,
                               [-17.4496, -18.9212, -33.1555, -25.5869, -142.8295, -129.2199], atol=0.1)
    assert [(r.mode, r.partners) for r in result.resonances] == [(5, (1, 2))]


def test_vpt2_refuses_a_linear_molecule_and_a_saddle_point():
    from esml.errors import EsmlError

    calc = reference_calculator("gfn2-xtb")
    co2 = optimise(molecule("CO2"), calc, fmax=1e-4)
    modes, derivatives = harmonic_modes(co2, calc)
    with pytest.raises(EsmlError, match="linear molecule"):
        quartic_force_field(modes, derivatives.hessian, calc)
    planar = Atoms("NH3", [[0, 0, 0], [1.01, 0, 0], [-0.505, 0.875, 0], [-0.505, -0.875, 0]])  # ammonia's inversion saddle
    modes, derivatives = harmonic_modes(optimise(planar, calc, fmax=1e-4), calc)
    with pytest.raises(EsmlError, match="imaginary mode"):
        quartic_force_field(modes, derivatives.hessian, calc)


def water_frames(count: int) -> list[Atoms]:
    calc = reference_calculator("gfn2-xtb")
    frames = []
    for seed in range(count):
        atoms = molecule("H2O")
        atoms.rattle(0.05, seed=seed)
        atoms.calc = calc
        atoms.get_forces()
        atoms.calc = SinglePointCalculator(atoms, **calc.results)  # as read from a labeled file
        frames.append(atoms)
    return frames


def random_dipole_model(species: list[int]):
    """An untrained PaiNN pair whose read-outs are not the zeros they start from."""
    import torch

    from esml.potentials.dipole import DipolePotential
    from esml.potentials.painn import PaiNNPotential

    torch.manual_seed(0)
    model = DipolePotential(PaiNNPotential(species), PaiNNPotential(species, energy_scale=0.2))
    with torch.no_grad():
        for network in (model.energy, model.charge_network):
            network.readout[-1].weight.normal_(0, 0.5)
    return model


def test_a_dipole_model_rotates_its_dipole_with_the_molecule_and_its_charges_sum_to_the_total():
    import torch
    from scipy.spatial.transform import Rotation

    from esml.calculator import PotentialCalculator

    model = random_dipole_model([1, 6, 8])
    calc = PotentialCalculator(model, dtype=torch.float64)
    ethanol = molecule("CH3CH2OH")
    ethanol.calc = calc
    dipole = ethanol.get_dipole_moment()
    assert abs(ethanol.get_charges().sum()) < 1e-12 and np.linalg.norm(dipole) > 1e-3
    rotation = Rotation.from_euler("xyz", [40, -75, 130], degrees=True)
    moved = ethanol.copy()
    moved.positions = rotation.apply(ethanol.positions) + [3.0, -2.0, 7.0]  # rotated, and far from the origin
    moved.calc = calc
    np.testing.assert_allclose(moved.get_dipole_moment(), rotation.apply(dipole), atol=1e-10)
    cation = ethanol.copy()
    cation.info["charge"] = 1
    cation.calc = calc
    assert cation.get_charges().sum() == pytest.approx(1.0, abs=1e-12)


def test_ases_own_infrared_runs_on_an_esml_model_with_dipoles(tmp_path):
    import torch
    from ase.vibrations import Infrared

    from esml.calculator import PotentialCalculator

    model = random_dipole_model([1, 8])
    water = molecule("H2O")
    water.calc = PotentialCalculator(model, dtype=torch.float64)
    infrared = Infrared(water, name=str(tmp_path / "ir"), delta=0.005)  # esml's step: the same finite differences
    infrared.run()
    infrared.read()
    # ASE's 3N modes (this random surface has no minimum at water, and ASE projects nothing out) share
    # Σ_i |∂μ/∂x_i|²/m_i among them, whatever the Hessian: the dipole derivatives ASE saw are esml's
    from ase import units

    _, derivatives = harmonic_modes(water, water.calc, dipole=True)
    masses = np.repeat(water.get_masses(), 3)
    expected = (derivatives.dipole**2).sum(axis=1) @ (1 / masses) / units.Debye**2  # (D/Å)²/amu
    assert infrared.intensities.sum() == pytest.approx(expected, rel=1e-6)


def test_training_with_dipoles_learns_them(tmp_path):
    from esml.errors import EsmlWarning
    from esml.training.config import family_config
    from esml.training.data import split_frames
    from esml.training.run import train_potential

    frames = water_frames(40)
    splits = split_frames(frames, 0.25, 0)
    spread = np.std([atoms.get_dipole_moment() for atoms in splits.valid])
    with pytest.warns(EsmlWarning, match="reference energies"):  # one composition: expected, and beside the point here
        result = train_potential("painn", splits, tmp_path / "dipole.pt", family_config("painn", max_epochs=30, dipole_weight=10.0))
    assert result.valid["dipole_mae"] < 0.5 * spread  # learned, not the mean dipole


def test_the_md_spectrum_finds_bands_at_the_frequencies_a_signal_oscillates_with():
    from esml.spectra.infrared import band_centres, dynamics_spectrum

    timestep = 0.25
    time = np.arange(8000) * timestep  # fs
    rng = np.random.default_rng(0)
    wavenumbers = np.array([1600.0, 3650.0])
    hertz = wavenumbers * 2.99792458e10 * 1e-15  # cycles per fs
    signal = sum(np.cos(2 * np.pi * f * time + rng.uniform(0, 6)) for f in hertz)
    dipoles = np.stack([signal, 0.3 * signal, np.zeros_like(signal)], axis=-1)[None]
    grid, spectrum = dynamics_spectrum(dipoles, timestep, 300.0)
    np.testing.assert_allclose(band_centres(grid, spectrum, wavenumbers + 20), wavenumbers, atol=5)


def test_spectrum_commands_write_a_plot_a_table_and_json(tmp_path):
    import json

    import ase.io
    from test_cli import esml

    start = tmp_path / "water.xyz"
    ase.io.write(start, molecule("H2O"))
    experiment = tmp_path / "experiment.json"
    experiment.write_text(json.dumps({"fundamentals_cm1": [1594.7, 3657.1, None], "source": "a test"}))
    for kind, extra in (("ir", []), ("anharmonic", []), ("md", ["--equilibration", "50", "--nve", "500", "--trajectories", "2"])):
        out, png = tmp_path / f"{kind}.json", tmp_path / f"{kind}.png"
        run = esml("spectrum", kind, "gfn2-xtb", start, "--experiment", experiment, "--png", png, "--json", out, *extra)
        assert run.returncode == 0, run.stderr
        report = json.loads(out.read_text())
        assert png.stat().st_size > 10_000 and report["against_experiment"]["n_fundamentals"] == 2
    assert json.loads((tmp_path / "ir.json").read_text())["intensities_km_mol"][0] == pytest.approx(133, abs=3)  # the bend
    anharmonic = json.loads((tmp_path / "anharmonic.json").read_text())
    assert all(f < h for f, h in zip(anharmonic["fundamentals_cm1"], anharmonic["harmonic_cm1"]))
    md = json.loads((tmp_path / "md.json").read_text())
    np.testing.assert_allclose(md["band_centres_cm1"], md["harmonic_cm1"], atol=60)


def test_normal_mode_samples_start_at_the_minimum_and_are_gaussian_draws_of_each_dimensionless_coordinate():
    from esml.spectra.surface import normal_mode_samples
    from esml.spectra.vpt2 import normal_lengths

    calc = reference_calculator("gfn2-xtb")
    modes, _ = harmonic_modes(optimise(molecule("H2O"), calc, fmax=1e-4), calc)
    samples = normal_mode_samples(modes, 400, spread=1.0, seed=1)
    assert len(samples) == 400 and np.array_equal(samples[0].positions, modes.atoms.positions)
    # back to dimensionless normal coordinates: q = Lᵀ M^½ Δx / length
    root_masses = np.sqrt(np.repeat(modes.atoms.get_masses(), 3))
    q = np.array([(modes.vectors.T @ (root_masses * (s.positions - modes.atoms.positions).ravel())) / normal_lengths(modes.wavenumbers)
                  for s in samples[1:]])
    rng = np.random.default_rng(1)  # the displacements are the draws N(0, 1) of each mode, exactly
    np.testing.assert_allclose(q, [rng.normal(0, 1.0, 3) for _ in range(399)], atol=1e-9)
