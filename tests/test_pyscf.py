import numpy as np
import pytest
from ase import Atoms
from ase.build import bulk, molecule
from ase.calculators.calculator import PropertyNotImplementedError
from ase.calculators.fd import calculate_numerical_forces
from pyscf import dft, gto, scf

from esml.errors import ConvergenceError, MethodError, StructureError
from esml.qm import calculator, compute, parse_method
from esml.units import DEBYE_TO_E_ANGSTROM, HARTREE_PER_BOHR_TO_EV_PER_ANGSTROM, HARTREE_TO_EV


def direct_molecule(atoms, basis, charge=0, spin=0):
    return gto.M(atom=list(zip(atoms.get_chemical_symbols(), atoms.positions)), basis=basis, charge=charge, spin=spin, verbose=0)


def test_hf_matches_pyscf_called_directly(water):
    ours = compute(water, parse_method("hf/6-31g"))
    mf = scf.RHF(direct_molecule(water, "6-31g")).run()
    assert ours["energy"] == pytest.approx(mf.e_tot * HARTREE_TO_EV, abs=1e-8)
    gradient = mf.nuc_grad_method().kernel()
    np.testing.assert_allclose(ours["forces"], -gradient * HARTREE_PER_BOHR_TO_EV_PER_ANGSTROM, atol=1e-7)
    np.testing.assert_allclose(ours["dipole"], mf.dip_moment(unit="Debye", verbose=0) * DEBYE_TO_E_ANGSTROM, atol=1e-7)
    np.testing.assert_allclose(ours["charges"], mf.mulliken_pop(verbose=0)[1], atol=1e-7)
    assert ours["charges"].sum() == pytest.approx(0.0, abs=1e-8)


def test_dft_matches_pyscf_called_directly(water):
    ours = compute(water, parse_method("pbe/def2-svp", density_fit=True), forces=False)
    mf = dft.RKS(direct_molecule(water, "def2-svp"), xc="pbe").density_fit().run()
    assert ours["energy"] == pytest.approx(mf.e_tot * HARTREE_TO_EV, abs=1e-8)


def test_b3lyp_forces_are_the_derivative_of_its_energy(water):
    # to 1e-5 eV/Å: without the integration grid's response they are off by 1e-4 or more (finite-difference
    # Hessians and BFGS near a minimum need them exact)
    water.calc = calculator("b3lyp/def2-svp", scf_tolerance=1e-11)
    forces = water.get_forces()
    numeric = calculate_numerical_forces(water, eps=2.5e-4)
    np.testing.assert_allclose(forces, numeric, atol=1e-5)


@pytest.mark.parametrize("method", ["mp2/sto-3g", "ccsd(t)/sto-3g"])
def test_correlated_forces_match_finite_differences(water, method):
    water.calc = calculator(method)
    forces = water.get_forces()
    step = 1e-3  # Å
    for atom, axis in [(0, 2), (1, 1)]:
        energies = []
        for sign in (1, -1):
            displaced = water.copy()
            displaced.positions[atom, axis] += sign * step
            energies.append(compute(displaced, parse_method(method), forces=False)["energy"])
        assert forces[atom, axis] == pytest.approx(-(energies[0] - energies[1]) / (2 * step), abs=1e-3)


def test_correlation_lowers_the_energy(water):
    energies = {m: compute(water, parse_method(f"{m}/sto-3g"), forces=False)["energy"] for m in ("hf", "mp2", "ccsd", "ccsd(t)")}
    assert energies["hf"] > energies["mp2"] and energies["hf"] > energies["ccsd"] > energies["ccsd(t)"]


def test_correlated_methods_give_no_hf_dipole(water):
    water.calc = calculator("mp2/sto-3g")
    with pytest.raises(PropertyNotImplementedError, match="mp2/sto-3g does not provide dipole"):
        water.get_dipole_moment()


def test_d3_dispersion_adds_the_dftd3_energy(water):
    from pyscf.dispersion.dftd3 import DFTD3Dispersion

    plain = compute(water, parse_method("b3lyp/sto-3g"), forces=False)["energy"]
    dispersed = compute(water, parse_method("b3lyp-d3bj/sto-3g"), forces=False)["energy"]
    d3 = DFTD3Dispersion(direct_molecule(water, "sto-3g"), xc="b3lyp", version="d3bj")
    expected = d3.get_dispersion()["energy"] * HARTREE_TO_EV
    assert expected < 0
    assert dispersed - plain == pytest.approx(expected, abs=1e-6)


def test_open_shell_runs_unrestricted():
    hydroxyl = molecule("OH")
    result = compute(hydroxyl, parse_method("hf/6-31g"))  # 9 electrons: doublet by default
    mf = scf.UHF(direct_molecule(hydroxyl, "6-31g", spin=1)).run()
    assert result["energy"] == pytest.approx(mf.e_tot * HARTREE_TO_EV, abs=1e-7)


def test_odd_electron_singlet_is_refused():
    with pytest.raises(StructureError, match="9 electrons cannot have multiplicity 1"):
        compute(molecule("OH"), parse_method("hf/sto-3g"), multiplicity=1)


def test_element_missing_from_basis_names_it():
    hydrogen_iodide = Atoms("HI", positions=[[0, 0, 0], [0, 0, 1.61]])
    with pytest.raises(StructureError, match=r"HI: basis 'cc-pvdz' unusable here .*I"):
        compute(hydrogen_iodide, parse_method("hf/cc-pvdz"))


def test_unconverged_scf_names_the_structure(water):
    with pytest.raises(ConvergenceError, match="H2O: pbe/sto-3g SCF did not converge in 1 cycles"):
        compute(water, parse_method("pbe/sto-3g", max_scf_cycles=1))


def test_scf_that_diis_leaves_unconverged_is_finished_by_the_second_order_solver(water):
    diis_alone = scf.RHF(direct_molecule(water, "sto-3g"))
    diis_alone.max_cycle, diis_alone.conv_tol = 3, 1e-9
    diis_alone.kernel()
    assert not diis_alone.converged  # the run below would have failed before the second-order fallback
    finished = compute(water, parse_method("hf/sto-3g", max_scf_cycles=3))
    reference = compute(water, parse_method("hf/sto-3g"))
    assert finished["energy"] == pytest.approx(reference["energy"], abs=1e-6)
    np.testing.assert_allclose(finished["forces"], reference["forces"], atol=1e-4)


def test_unknown_functional_is_a_method_error(water):
    with pytest.raises(MethodError, match="functional 'nosuchxc' is not known"):
        compute(water, parse_method("nosuchxc/sto-3g"))


def test_periodic_cells_are_sent_to_xtb():
    with pytest.raises(StructureError, match="periodic"):
        compute(bulk("Si"), parse_method("pbe/sto-3g"))
