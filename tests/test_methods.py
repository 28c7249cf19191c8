import pytest
from ase import units as ase_units

from esml import units
from esml.errors import MethodError
from esml.qm import parse_method


def test_units_come_from_ase_and_say_their_direction():
    assert units.HARTREE_TO_EV == ase_units.Hartree
    assert units.BOHR_TO_ANGSTROM == ase_units.Bohr
    assert units.HARTREE_TO_EV * units.EV_TO_HARTREE == pytest.approx(1.0, abs=1e-15)
    assert units.HARTREE_PER_BOHR_TO_EV_PER_ANGSTROM == pytest.approx(51.4220671, rel=1e-8)  # CODATA 2014, ASE's default


@pytest.mark.parametrize(
    "text, name, basis, dispersion, engine",
    [
        ("gfn2-xtb", "gfn2-xtb", None, None, "tblite"),
        ("GFN1-xTB", "gfn1-xtb", None, None, "tblite"),
        ("b3lyp/def2-svp", "b3lyp", "def2-svp", None, "pyscf"),
        ("b3lyp-d3bj/def2-svp", "b3lyp", "def2-svp", "d3bj", "pyscf"),
        ("wb97x-v/def2-tzvp", "wb97x-v", "def2-tzvp", None, "pyscf"),
        ("ccsd(t)/cc-pvdz", "ccsd(t)", "cc-pvdz", None, "pyscf"),
        ("hf/6-31g*", "hf", "6-31g*", None, "pyscf"),
    ],
)
def test_method_strings_parse(text, name, basis, dispersion, engine):
    spec = parse_method(text)
    assert (spec.name, spec.basis, spec.dispersion, spec.engine) == (name, basis, dispersion, engine)
    assert parse_method(spec.label) == spec


def test_kinds_of_method():
    assert parse_method("pbe/def2-svp").is_dft
    assert not parse_method("hf/sto-3g").is_dft
    assert parse_method("mp2/sto-3g").is_correlated


@pytest.mark.parametrize(
    "text, settings, message",
    [
        ("def2-svp", {}, "not understood"),
        ("pbe/", {}, "not understood"),
        ("pbe/def2-svp/x", {}, "not understood"),
        ("gfn2-xtb", {"density_fit": True}, "built into xTB"),
        ("mp2/cc-pvdz", {"density_fit": True}, "hf and DFT only"),
        ("pbe-d3bj/def2-svp", {"dispersion": "d4"}, "also given"),
        ("pbe/def2-svp", {"dispersion": "d9"}, "unknown"),
        ("pbe/def2-svp", {"max_scf_cycles": 0}, "at least 1"),
    ],
)
def test_bad_method_strings_say_what_to_do(text, settings, message):
    with pytest.raises(MethodError, match=message):
        parse_method(text, **settings)
