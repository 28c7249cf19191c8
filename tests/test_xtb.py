import pickle

import numpy as np
import pytest
from ase.build import bulk
from ase.calculators.fd import calculate_numerical_forces
from tblite.ase import TBLite

from esml.errors import ConvergenceError, StructureError
from esml.qm import calculator, compute, parse_method
from esml.qm.xtb import XTBSession


@pytest.mark.parametrize("method, tblite_name", [("gfn2-xtb", "GFN2-xTB"), ("gfn1-xtb", "GFN1-xTB")])
def test_matches_tblite_called_directly(water, method, tblite_name):
    ours = compute(water, parse_method(method))
    reference = water.copy()
    reference.calc = TBLite(method=tblite_name, verbosity=0)
    assert ours["energy"] == pytest.approx(reference.get_potential_energy(), abs=1e-8)
    np.testing.assert_allclose(ours["forces"], reference.get_forces(), atol=1e-8)
    np.testing.assert_allclose(ours["dipole"], reference.get_dipole_moment(), atol=1e-8)
    np.testing.assert_allclose(ours["charges"], reference.get_charges(), atol=1e-8)


def test_forces_are_the_energy_gradient(water):
    water.calc = calculator("gfn2-xtb")
    forces = water.get_forces()
    numeric = calculate_numerical_forces(water, eps=1e-4)
    np.testing.assert_allclose(forces, numeric, atol=1e-4)


def test_periodic_cell_gives_stress_like_tblite():
    silicon = bulk("Si", "diamond", a=5.43)
    ours = compute(silicon, parse_method("gfn1-xtb"))
    reference = silicon.copy()
    reference.calc = TBLite(method="GFN1-xTB", verbosity=0)
    assert ours["energy"] == pytest.approx(reference.get_potential_energy(), abs=1e-8)
    np.testing.assert_allclose(ours["stress"], reference.get_stress(), atol=1e-10)


def test_a_session_along_a_trajectory_gives_what_fresh_calculations_give(water):
    """Positions and cells are updated in place and SCFs restart from the last wavefunction; a new
    system (here a charge, then a cell) gets a new calculator; a copy of a session starts afresh."""
    session, method = XTBSession(), parse_method("gfn2-xtb")
    silicon = bulk("Si", "diamond", a=5.43)
    steps = [(water, 0)] * 3 + [(water, 1)] * 2 + [(silicon, 0)] * 2
    for step, (atoms, charge) in enumerate(steps):
        atoms = atoms.copy()
        atoms.rattle(0.02, seed=step)
        atoms.cell *= 1 + 0.01 * step * atoms.pbc.any()
        multiplicity = 2 if charge else 1
        ours = compute(atoms, method, charge, multiplicity, xtb_session=session)
        fresh = compute(atoms, method, charge, multiplicity)
        assert ours["energy"] == pytest.approx(fresh["energy"], abs=1e-6)
        np.testing.assert_allclose(ours["forces"], fresh["forces"], atol=2e-3)
    assert pickle.loads(pickle.dumps(session))._calculator is None


def test_charge_and_multiplicity_are_honoured(water):
    neutral = compute(water, parse_method("gfn2-xtb"))
    cation = compute(water, parse_method("gfn2-xtb"), charge=1, multiplicity=2)
    assert cation["charges"].sum() == pytest.approx(1.0, abs=1e-6)
    assert cation["energy"] > neutral["energy"] + 5.0  # ionisation costs several eV


def test_odd_electrons_cannot_be_a_singlet(water):
    with pytest.raises(StructureError, match="9 electrons cannot have multiplicity 1"):
        compute(water, parse_method("gfn2-xtb"), charge=1, multiplicity=1)


def test_unconverged_scf_names_the_structure(water):
    water.positions[1] += [0.0, 0.0, 1.5]  # a stretched bond converges slowly
    with pytest.raises(ConvergenceError, match=r"H2O: gfn2-xtb SCF did not converge in 1 cycles"):
        compute(water, parse_method("gfn2-xtb", max_scf_cycles=1))


def test_nan_positions_are_refused(water):
    water.positions[0, 0] = np.nan
    with pytest.raises(StructureError, match="NaN"):
        compute(water, parse_method("gfn2-xtb"))
