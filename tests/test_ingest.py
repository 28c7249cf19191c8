"""Ingestion of real code outputs (the samples inside the ase wheel) and of bad files."""

import shutil
import warnings
from pathlib import Path

import ase
import ase.io
import numpy as np
import pytest
from ase import units

from esml.data.ingest import ingest
from esml.data.query import query

TESTDATA = Path(ase.__file__).parent / "test" / "testdata"
SAMPLES = {  # file -> ASE format; every one has energies
    "vasp/vasprun_pstress.xml": "vasp-xml",
    "vasp/OUTCAR_example_1": "vasp-out",
    "aims/md.out": "aims-output",
    "aims/relax.out": "aims-output",
    "castep/md.castep": "castep-castep",
    "gpaw_expected_text_output": "gpaw-out",
    "qbox_test.xml": "qbox",
}


@pytest.fixture
def outputs(tmp_path):
    folder = tmp_path / "outputs"
    for name in SAMPLES:
        target = folder / name
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy(TESTDATA / name, target)
    return folder


def test_code_outputs_are_ingested_with_their_energies_and_forces(store, outputs):
    report = ingest(store, [outputs])
    assert (report.files_seen, report.parsed, report.skipped) == (len(SAMPLES), len(SAMPLES), [])
    stored = query(store)
    for name, fmt in SAMPLES.items():
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # ASE notes the aims reader moving and CASTEP run warnings
            expected = ase.io.read(outputs / name, index=":", format=fmt)
        frames = [a for a in stored if a.info["esml_source"] == str((outputs / name).resolve())]
        assert 0 < len(frames) <= len(expected), name  # fewer only where frames repeat a geometry
        # ASE reads Qbox's atomic units without converting them; esml converts
        energy_unit, force_unit = (units.Hartree, units.Hartree / units.Bohr) if fmt == "qbox" else (1.0, 1.0)
        for atoms in frames:
            reference = expected[atoms.info["esml_frame"]]
            assert abs(atoms.get_potential_energy() - energy_unit * reference.get_potential_energy()) < 1e-6, name
            if "forces" in reference.calc.results:
                assert np.allclose(atoms.get_forces(), force_unit * reference.get_forces(), atol=1e-10), name


def test_vasprun_metadata_comes_from_the_file(sqlite_store, outputs):
    ingest(sqlite_store, [outputs / "vasp/vasprun_pstress.xml"])
    (frame,) = query(sqlite_store)
    assert frame.info["esml_code"] == "VASP"
    from pymatgen.io.vasp.outputs import Vasprun

    run = Vasprun(str(outputs / "vasp/vasprun_pstress.xml"), parse_dos=False, parse_eigen=False, parse_potcar_file=False)
    assert frame.info["esml_functional"] == run.run_type.lower()
    assert frame.info["esml_code_version"].startswith("6.")


def test_reingesting_the_same_files_adds_nothing(sqlite_store, outputs):
    first = ingest(sqlite_store, [outputs])
    copy = outputs / "copy_of_outcar"
    shutil.copy(outputs / "vasp/OUTCAR_example_1", copy)
    second = ingest(sqlite_store, [outputs])
    assert first.frames_added > 0
    assert (second.already_ingested, second.parsed, second.frames_added) == (len(SAMPLES) + 1, 0, 0)
    assert second.skipped == []  # the copy has the same content, so it counts as already ingested


def test_bad_files_are_reported_and_the_rest_is_ingested(sqlite_store, outputs, water):
    bad = outputs / "bad"
    bad.mkdir()
    text = (TESTDATA / "vasp/OUTCAR_example_1").read_text()
    (bad / "OUTCAR").write_text(text[: len(text) // 2])  # truncated
    (bad / "garbage.bin").write_bytes(bytes(range(256)) * 64)
    (bad / "empty.out").write_text("")
    (bad / "notes.txt").write_text("nothing to see\n")
    nan_frame = water.copy()
    from ase.calculators.singlepoint import SinglePointCalculator
    nan_frame.calc = SinglePointCalculator(nan_frame, energy=float("nan"))
    ase.io.write(bad / "nan.extxyz", [nan_frame], format="extxyz")
    report = ingest(sqlite_store, [outputs])
    skipped = dict(report.skipped)
    assert report.parsed == len(SAMPLES)
    assert "vasp-out reader" in skipped[str(bad / "OUTCAR")]
    assert "binary" in skipped[str(bad / "garbage.bin")]
    assert "empty" in skipped[str(bad / "empty.out")]
    assert "unknown format" in skipped[str(bad / "notes.txt")]
    assert "non-finite energy" in skipped[str(bad / "nan.extxyz")]


def test_files_above_the_size_limit_are_skipped_not_read(sqlite_store, outputs):
    report = ingest(sqlite_store, [outputs / "vasp/OUTCAR_example_1"], max_bytes=1000)
    assert report.parsed == 0 and "larger than" in report.skipped[0][1]


def test_esml_labels_keep_their_method(sqlite_store, tmp_path, rattled_waters):
    from esml.methods import parse_method
    from esml.qm.cache import LabelCache
    from esml.qm.label import label_structures

    spec = parse_method("gfn2-xtb")
    labeled, _ = label_structures(rattled_waters, spec, LabelCache(tmp_path / "c.sqlite"))
    ase.io.write(tmp_path / "labels.extxyz", labeled, format="extxyz")
    ingest(sqlite_store, [tmp_path / "labels.extxyz"])
    frames = query(sqlite_store, '_esml_method="gfn2-xtb"')
    assert len(frames) == 4
    assert frames[0].info["esml_code"] == "tblite"
    assert frames[0].info["esml_code_version"].startswith("tblite==")
    assert np.isclose(frames[2].get_potential_energy(), labeled[2].get_potential_energy(), atol=1e-9)


def test_the_same_run_read_from_a_file_that_tells_less_is_one_calculation(sqlite_store, water):
    """vasprun.xml gives VASP's version, functional and settings, OUTCAR none of them: with the same
    structure, code and energy, and nothing that contradicts, they are one run. A record whose method
    contradicts is another calculation, even with the same energy."""
    from esml.data.records import Record
    from esml.data.write import write_records

    full = Record(atoms=water, code="VASP", code_version="6.4.2", method="pbe", settings={"ENCUT": 400}, energy=-14.2)
    told_less = Record(atoms=water.copy(), code="VASP", energy=-14.2)
    contradicting = Record(atoms=water.copy(), code="VASP", method="pbe0", energy=-14.2)
    first = write_records(sqlite_store, [full])
    second = write_records(sqlite_store, [told_less])
    third = write_records(sqlite_store, [contradicting])
    assert (second.added, second.duplicates, second.calculation_ids) == (0, 1, first.calculation_ids)
    assert third.added == 1
