import json
import subprocess
import sys
from pathlib import Path

import ase.io
import pytest
from ase.build import molecule

from esml.qm import calculator

ESML = str(Path(sys.executable).with_name("esml"))


def esml(*args, cwd=None):
    return subprocess.run([ESML, *map(str, args)], capture_output=True, text=True, cwd=cwd, timeout=300)


def assert_one_line_error(run, *fragments):
    assert run.returncode == 2, run.stderr
    lines = run.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("esml: error:"), run.stderr
    for fragment in fragments:
        assert fragment in lines[0]


@pytest.fixture
def waters(tmp_path):
    frames = [molecule("H2O") for _ in range(3)]
    for seed, atoms in enumerate(frames):
        atoms.rattle(0.02, seed=seed)
    path = tmp_path / "waters.xyz"
    ase.io.write(path, frames)
    return path


def test_help_names_every_command_and_units():
    run = esml("--help")
    assert run.returncode == 0
    for word in ("label", "demo", "eV"):
        assert word in run.stdout
    assert "eV/Å" in esml("label", "--help").stdout
    assert esml("--version").stdout.startswith("esml ")


def test_label_writes_labels_and_a_rerun_comes_from_the_cache(waters, tmp_path):
    out = tmp_path / "labeled.xyz"
    first = esml("label", waters, "-m", "hf/sto-3g", "-o", out)
    assert first.returncode == 0, first.stderr
    assert "computed" in first.stderr
    frames = ase.io.read(out, ":")
    assert len(frames) == 3
    assert frames[0].get_forces().shape == (3, 3)
    assert frames[0].info["esml_method"] == "hf/sto-3g"
    rerun = esml("label", waters, "-m", "hf/sto-3g", "-o", out, "-q")
    assert rerun.returncode == 0 and rerun.stderr == ""
    assert [a.get_potential_energy() for a in ase.io.read(out, ":")] == [a.get_potential_energy() for a in frames]


def test_label_runs_a_shipped_learned_functional_by_name(tmp_path):
    path, out = tmp_path / "h2.xyz", tmp_path / "labeled.xyz"
    ase.io.write(path, molecule("H2"))
    run = esml("label", path, "-m", "esml-xc3/sto-3g", "-o", out, "--cache", tmp_path / "labels.sqlite", "-q")
    assert run.returncode == 0, run.stderr
    labeled = ase.io.read(out)
    atoms = molecule("H2")
    atoms.calc = calculator("esml-xc3/sto-3g")
    assert labeled.get_potential_energy() == pytest.approx(atoms.get_potential_energy(), abs=1e-6)


def test_failed_frames_go_to_a_failures_file_and_exit_nonzero(tmp_path):
    radical = molecule("OH")
    radical.info["multiplicity"] = 1
    path = tmp_path / "mixed.xyz"
    ase.io.write(path, [molecule("H2O"), radical, molecule("NH3")])
    out = tmp_path / "labeled.xyz"
    run = esml("label", path, "-m", "gfn2-xtb", "-o", out, "-q")
    assert run.returncode == 1
    assert "1 frame(s) failed" in run.stderr and "Traceback" not in run.stderr
    assert len(ase.io.read(out, ":")) == 2
    assert "9 electrons cannot have multiplicity 1" in (tmp_path / "labeled.failures.jsonl").read_text()


def test_bad_input_gives_one_clear_line(tmp_path, waters):
    garbage = tmp_path / "garbage.xyz"
    garbage.write_bytes(bytes(range(256)) * 4)
    out = tmp_path / "out.xyz"
    assert_one_line_error(esml("label", tmp_path / "missing.xyz", "-m", "gfn2-xtb", "-o", out), "no such file")
    assert_one_line_error(esml("label", garbage, "-m", "gfn2-xtb", "-o", out), "garbage.xyz", "ase.io")
    assert_one_line_error(esml("label", waters, "-m", "b3lyp", "-o", out), "not understood")
    assert_one_line_error(esml("label", waters, "-m", "nosuchxc/sto-3g", "-o", out, "-q"), "nosuchxc")
    assert_one_line_error(esml("label", waters, "-m", "hf/def2-svpx", "-o", out, "-q"), "basis 'def2-svpx' is not one PySCF knows")
    assert_one_line_error(esml("label", waters, "-m", "hf/sto-3g", "-o", out, "--scheduler", "tcp://127.0.0.1:9", "-q"), "Dask scheduler")
    assert not out.exists()


def test_demo_runs_the_learning_job_and_resumes_its_own_folder(tmp_path):
    out = tmp_path / "demo"
    common = ["-o", out, "--cache", tmp_path / "labels.sqlite", "-q"]
    run = esml("demo", "--budget", "12", "--steps", "40", *common)
    assert run.returncode == 1 and "not reached within the budget of 12" in run.stderr, run.stderr
    assert json.loads((out / "report.json").read_text())["oracle_calls"] == 12
    again = esml("demo", "--budget", "12", "--steps", "40", *common)  # resumes: nothing left to do
    assert again.returncode == 1 and json.loads((out / "report.json").read_text())["oracle_calls"] == 12


@pytest.mark.slow
def test_default_demo_learns_ethanol_to_the_target(tmp_path):
    """`make demo` as shipped: active learning of ethanol with the GFN2-xTB oracle (a few minutes)."""
    run = esml("demo", "-o", tmp_path / "demo", "--cache", tmp_path / "labels.sqlite", "-q")
    assert run.returncode == 0, run.stderr
    report = json.loads((tmp_path / "demo" / "report.json").read_text())
    assert report["status"] == "converged" and report["force_mae"] <= 0.05


def test_store_commands_end_to_end(tmp_path):
    import ase

    db = tmp_path / "cli.db"
    outputs = Path(ase.__file__).parent / "test" / "testdata" / "aims"
    ingested = esml("ingest", outputs, "--db", db, "-q")
    assert ingested.returncode == 0, ingested.stderr
    assert "Ingest" in ingested.stderr and "skipped" in ingested.stderr  # preamble_fail.out has no SCF step
    imported = esml("datasets", "import", "qm7", "--limit", "50", "--db", db, "-q")
    assert imported.returncode == 0 and "dataset 'qm7-50'" in imported.stderr
    table = esml("query", 'elements HAS ALL "C","O" AND nsites < 10', "--db", db)
    assert table.returncode == 0 and "entries" in table.stdout + table.stderr
    as_csv = esml("query", 'elements HAS "O"', "--dataset", "qm7-50", "--split", "train", "--db", db, "-f", "csv", "--limit", "0")
    lines = as_csv.stdout.strip().splitlines()
    assert lines[0].startswith("id,formula") and all("pbe0" in line for line in lines[1:])
    exported = esml("export", tmp_path / "train.h5", "--dataset", "qm7-50", "--split", "train", "--db", db)
    assert exported.returncode == 0 and (tmp_path / "train.h5").exists()
    listing = esml("datasets", "list", "--db", db)
    assert "qm7-50" in listing.stdout + listing.stderr


def test_store_commands_reject_bad_input_in_one_line(tmp_path):
    from esml.data.store import open_store

    db = tmp_path / "cli.db"
    open_store(str(db)).engine.dispose()
    for args, message in [
        (("query", "nsites <", "--db", db), "filter does not parse"),
        (("query", "colour = 1", "--db", db), "unknown property 'colour'"),
        (("query", "", "--dataset", "none", "--db", db), "no dataset named 'none'"),
        (("ingest", tmp_path / "missing", "--db", db), "does not exist"),
        (("query", "", "--db", tmp_path / "no" / "x.db"), "no store at"),
        (("export", tmp_path / "out.pdf", "--db", db), "export format"),
    ]:
        result = esml(*args)
        assert result.returncode == 2, (args, result.stderr)
        assert result.stderr.count("\n") == 1 and message in result.stderr, result.stderr


def test_xc_evaluate_refuses_a_missing_model_and_an_unknown_set(tmp_path):
    assert_one_line_error(esml("xc", "evaluate", tmp_path / "nothing.pt", "--quiet"), "nothing.pt", "esml xc train")
    assert_one_line_error(esml("xc", "evaluate", "esml-xc1", "--set", "bogus", "--quiet"), "--set 'bogus'", "heldout")
