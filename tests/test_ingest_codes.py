"""Ingestion of 75 real outputs of 15 molecular codes (cclib's regression files, in ../shared/data/outputs),
checked against cclib's own parse of each file, and of the files failed and killed jobs leave behind."""

import json
import logging
import os
import shutil
import subprocess
from pathlib import Path

import numpy as np
import pytest
import sqlalchemy as sa

from esml.data.ingest import ingest
from esml.data.query import query
from esml.data.readers import ReadError, read_records
from esml.data.readers.periodic import castep_with_dispersion
from esml.data.schema import calculations
from esml.units import HARTREE_TO_EV

REPOSITORY = Path(__file__).resolve().parents[1]
CANDIDATES = [Path(os.environ.get("ESML_SHARED_DATA", "/nonexistent")), REPOSITORY.parent / "shared" / "data",
              Path("/work/shared/data")]
OUTPUTS = next((path / "outputs" for path in CANDIDATES if (path / "outputs" / "MANIFEST.tsv").exists()), None)
pytestmark = pytest.mark.skipif(OUTPUTS is None, reason="the real outputs are in ../shared/data/outputs (or $ESML_SHARED_DATA)")
# files esml refuses, each for a reason that is true of the file (checked by hand; see the reasons)
REFUSED = {
    "gamess-uk/water_mp2.out": "not a correlation correction",  # cclib 1.8.1 reads its MP2 energy 27× too large
    "molpro/molpro2018_dvb_gopt.out": "cclib's Molpro reader failed",
    "molpro/molpro2018_dvb_sphf.out": "cclib's Molpro reader failed",
    "mopac/h2o.out": "found no atoms",
    "orca/orca6.0_dvb_td.out": "excited-state",
    "xtb/dvb_sp.out": "found no geometry",  # xTB prints only the name of its input geometry's file
}


def real_files() -> list[str]:
    if OUTPUTS is None:
        return []
    rows = (OUTPUTS / "MANIFEST.tsv").read_text().splitlines()[1:]
    return [row.split("\t")[0] for row in rows]


def cclib_final_energy(path: Path) -> tuple[float, int]:
    """cclib's last energy of the highest level in the file, in eV by ASE's constant, and its atom count."""
    import cclib
    from cclib.parser.utils import convertor

    data = cclib.io.ccread(str(path), loglevel=logging.CRITICAL + 1)
    for name in ("ccenergies", "mpenergies", "scfenergies"):
        values = getattr(data, name, None)
        if values is not None and len(values):
            last = np.ravel(values[-1])[-1]
            return convertor(float(last), "eV", "hartree") * HARTREE_TO_EV, len(data.atomnos)
    raise AssertionError(f"cclib found no energy in {path}")


@pytest.mark.parametrize("name", real_files())
def test_every_real_output_is_stored_with_cclibs_final_energy_or_refused_with_its_reason(name):
    path = OUTPUTS / name
    if name in REFUSED:
        with pytest.raises(ReadError, match=REFUSED[name].replace("(", r"\(")):
            read_records(path)
        return
    parser, records = read_records(path)
    final = records[-1]
    if parser.startswith("ase.io:"):  # ORCA 6, which cclib 1.8.1 cannot read: ASE's "FINAL SINGLE POINT ENERGY"
        import ase.io

        reference = ase.io.read(path, format="orca-output")
        expected, n_atoms = reference.get_potential_energy(), len(reference)
    else:
        expected, n_atoms = cclib_final_energy(path)
    assert len(final.atoms) == n_atoms
    assert abs(final.energy - expected) <= max(2e-3, 2e-7 * abs(expected)), (final.energy, expected)
    assert final.code and final.original_units["energy"] == "Hartree"


def test_the_corpus_is_stored_with_methods_told_apart(sqlite_store):
    """Ingest of the whole corpus: at least 90 % of the files stored, no crash, and the HF and
    B3LYP runs of NWChem on one geometry are two calculations, not one and a "duplicate"."""
    report = ingest(sqlite_store, [OUTPUTS])
    assert report.parsed >= 0.9 * (report.files_seen - 2)  # MANIFEST.tsv and the licence are not outputs
    assert {path.split("/")[-1] for path, _ in report.skipped} >= {"MANIFEST.tsv", "LICENSE-cclib"}
    nwchem = [a for a in query(sqlite_store, '_esml_code="NWChem" AND nsites=20')
              if a.info["esml_source"].endswith(("nw7.0_dvb_sp_hf.out", "nw7.0_dvb_sp_ks.out"))]
    assert sorted(a.info["esml_method"] for a in nwchem) == ["b3lyp/sto-3g", "hf/sto-3g"]
    cation = query(sqlite_store, '_esml_code="Gaussian" AND _esml_charge=1')
    assert [a.info["multiplicity"] for a in cation] == [2]


@pytest.mark.parametrize(("name", "sign_checked_frames"), [
    ("gaussian/g16_dvb_scan_relaxed.log", 60), ("nwchem/nw7.0_dvb_bomd_ks.out", 36), ("psi4/dvb_gopt_rks.out", 3),
    ("qchem/qc5.4_dvb_bomd.out", 36), ("qchem/qc5.4_dvb_gopt.out", 5), ("orca/orca6.0_dvb_gopt.out", 3)])
def test_forces_have_the_sign_that_matches_the_energies(name, sign_checked_frames):
    """Forces kept are those whose work along each step matches the energy change; a wrong sign
    in FORCE_SIGN would leave none. Gaussian's first frame (cclib pairs it with another
    orientation's forces) is the one frame dropped."""
    _, records = read_records(OUTPUTS / name)
    assert sum(r.forces is not None for r in records) == sign_checked_frames


def test_gaussian_forces_agree_with_ases_reader_in_every_orientation():
    """cclib rotates Gaussian's forces into the standard orientation; ASE keeps the input one. The
    virial Σ F·r does not depend on the orientation, so it must agree frame by frame."""
    import ase.io

    path = OUTPUTS / "gaussian/g16_dvb_gopt.out"
    reference = ase.io.read(path, ":", format="gaussian-out")
    _, records = read_records(path)
    for record, atoms in zip(records, reference):
        if record.forces is not None:
            assert np.sum(record.forces * record.atoms.positions) == pytest.approx(
                np.sum(atoms.get_forces() * atoms.positions), abs=1e-6)


def truncated(source: Path, target: Path, keep: float) -> Path:
    text = source.read_bytes()
    target.write_bytes(text[: int(len(text) * keep)])
    return target


def test_files_of_failed_and_killed_jobs_are_refused_with_their_reason(tmp_path):
    log = (OUTPUTS / "gaussian/g16_dvb_sp.out").read_text()
    cut = log.index("SCF Done:") + len("SCF Done:  E(RB3LYP) =  -382.30")  # inside the number
    (tmp_path / "cut.log").write_text(log[:cut])
    failed = log.replace(" Normal termination of Gaussian", " Convergence failure -- run terminated.")
    (tmp_path / "failed.log").write_text(failed)
    truncated(OUTPUTS / "qchem/qc5.4_dvb_bomd.out", tmp_path / "killed_md.out", 0.6)
    for name in ("cut.log", "failed.log", "killed_md.out"):
        with pytest.raises(ReadError, match="did not end normally"):
            read_records(tmp_path / name)


def test_a_truncated_vasprun_is_skipped_and_the_run_goes_on(sqlite_store, tmp_path):
    import ase

    vasprun = Path(ase.__file__).parent / "test" / "testdata" / "vasp" / "vasprun_pstress.xml"
    folder = tmp_path / "files"
    folder.mkdir()
    truncated(vasprun, folder / "a_vasprun.xml", 0.5)
    shutil.copy(OUTPUTS / "psi4/dvb_sp_rks.out", folder / "b_psi4.out")
    report = ingest(sqlite_store, [folder])
    assert report.parsed == 1 and len(report.skipped) == 1
    assert "VASP run did not end" in report.skipped[0][1] or "reader failed" in report.skipped[0][1]


def test_one_geometry_with_two_methods_or_two_results_is_never_merged(sqlite_store, tmp_path):
    """ORCA 6 outputs are read by ASE, which reads no method: an HF and a DFT energy on one geometry
    then share every identity field, and are kept apart by their energies."""
    for name in ("orca6.0_dvb_sp_hf.out", "orca6.0_dvb_sp_dft.out"):
        shutil.copy(OUTPUTS / "orca" / name, tmp_path / name)
    report = ingest(sqlite_store, [tmp_path])
    assert (report.frames_added, report.duplicates, report.kept_apart) == (2, 0, 1)
    energies = sorted(a.get_potential_energy() for a in query(sqlite_store))
    assert energies[1] - energies[0] > 50  # HF and B3LYP, 62 eV apart, both kept
    copy = tmp_path / "copy" / "hf.out"  # the same calculation in a file of other content: a duplicate
    copy.parent.mkdir()
    copy.write_text((tmp_path / "orca6.0_dvb_sp_hf.out").read_text() + "\n")  # the one kept apart (read second)
    again = ingest(sqlite_store, [copy])
    assert (again.frames_added, again.kept_apart, again.duplicates) == (0, 1, 1)


def test_the_store_file_inside_the_ingested_folder_is_not_ingested(tmp_path):
    from esml.data.store import open_store

    shutil.copy(OUTPUTS / "psi4/dvb_sp_rks.out", tmp_path / "psi4.out")
    store = open_store(str(tmp_path / "esml.db"))
    report = ingest(store, [tmp_path])
    assert report.files_seen == 1 and report.parsed == 1


def test_castep_energy_includes_the_dispersion_its_forces_include():
    from ase.build import bulk
    from ase.calculators.singlepoint import SinglePointCalculator

    atoms = bulk("Si")
    atoms.calc = SinglePointCalculator(atoms, energy=-10.0, free_energy=-10.1)
    atoms.calc.results.update(energy_with_dispersion_correlation=-10.5, free_energy_with_dispersion_correlation=-10.6)
    corrected = castep_with_dispersion(atoms).calc.results
    assert (corrected["energy"], corrected["free_energy"]) == (-10.5, -10.6)


def test_ingest_report_lists_every_file_with_its_outcome(tmp_path):
    from test_cli import esml

    folder = tmp_path / "files"
    folder.mkdir()
    for name in ("psi4/dvb_sp_rks.out", "xtb/dvb_sp.out"):
        shutil.copy(OUTPUTS / name, folder / name.replace("/", "_"))
    run = esml("ingest", folder, "--db", tmp_path / "s.db", "--report", tmp_path / "report.json", "-q")
    assert run.returncode == 0, run.stderr
    report = json.loads((tmp_path / "report.json").read_text())
    outcomes = {Path(f["path"]).name: (f["outcome"], f["reason"]) for f in report["files"]}
    assert outcomes["psi4_dvb_sp_rks.out"] == ("stored", None)
    assert outcomes["xtb_dvb_sp.out"][0] == "skipped" and "no geometry" in outcomes["xtb_dvb_sp.out"][1]
    assert "skipped 1" in run.stderr and "Traceback" not in run.stdout + run.stderr  # the console writes to stderr


@pytest.mark.parametrize("existing", [False, True], ids=["new store", "existing store"])
def test_two_concurrent_ingests_lose_nothing_and_print_no_traceback(store, tmp_path, existing):
    """Two processes ingest the same 20 files at once, into one store: every calculation is stored
    once, and neither run fails."""
    folder = tmp_path / "files"
    for name in real_files()[:24]:
        if name not in REFUSED:
            target = folder / name
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy(OUTPUTS / name, target)
    url = store.engine.url.render_as_string(hide_password=False)
    if store.dialect == "sqlite" and not existing:
        store.engine.dispose()
        Path(store.engine.url.database).unlink()
        for suffix in ("-wal", "-shm"):
            Path(store.engine.url.database + suffix).unlink(missing_ok=True)
    elif not existing:
        with store.engine.begin() as connection:  # an empty database: both runs create the schema
            connection.exec_driver_sql("DROP SCHEMA public CASCADE; CREATE SCHEMA public")
    from test_cli import ESML

    command = [ESML, "ingest", str(folder), "--db", url, "-q"]
    runs = [subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True) for _ in range(2)]
    outputs = [run.communicate(timeout=300) for run in runs]
    for run, (out, err) in zip(runs, outputs):
        assert run.returncode == 0 and "Traceback" not in out + err, err
    single = tmp_path / "single.db"
    from esml.data.store import open_store

    reference = open_store(str(single))
    expected = ingest(reference, [folder]).frames_added
    engine = sa.create_engine(url)
    with engine.connect() as connection:
        assert connection.execute(sa.select(sa.func.count()).select_from(calculations)).scalar() == expected
    engine.dispose()


def test_concatenated_gaussian_jobs_are_read_job_by_job(tmp_path):
    """A compound job (--Link1--) or logs written one after another: each job's frames, with its own
    method (cclib alone reads the first job's geometry and mixes the jobs' energies)."""
    jobs = [(OUTPUTS / "gaussian" / name).read_text() for name in ("g16_dvb_sp.out", "g16_water_mp2.log", "g16_water_ccsd.log")]
    (tmp_path / "compound.log").write_text("".join(jobs))
    _, records = read_records(tmp_path / "compound.log")
    assert [(r.method, len(r.atoms), r.frame) for r in records] == [
        ("b3lyp/sto-3g", 20, 0), ("mp2/sto-3g", 3, 1), ("ccsd/sto-3g", 3, 2)]
    for record, name in zip(records, ("g16_dvb_sp.out", "g16_water_mp2.log", "g16_water_ccsd.log")):
        assert record.energy == read_records(OUTPUTS / "gaussian" / name)[1][-1].energy
    (tmp_path / "second_failed.log").write_text(jobs[0] + jobs[1].replace(" Normal termination of Gaussian", " Error termination"))
    with pytest.raises(ReadError, match="job 2 of 2: the Gaussian run did not end normally"):
        read_records(tmp_path / "second_failed.log")
