"""The fault matrix: bad input to every command ends in one line on stderr, the documented exit
status, and no file touched. Each row is (case, arguments, exit status, a fragment of the line).

Arguments are formatted with the paths of a scratch folder: {labeled} (labeled water frames),
{model} (a small ANI model), {store} (a store with those frames), {folder} (an empty folder),
{junk} (a text file that is nothing esml reads), {torch_dict} (a torch file that is not a model),
{cell} (a periodic cell), {out} (a path that does not exist yet). The files are hashed before and
after every case: a refusal changes nothing.
"""

import hashlib
import os
import subprocess
import sys
from pathlib import Path

import ase.io
import pytest
import torch
from ase.build import bulk, molecule

from esml.qm import calculator

ESML = str(Path(sys.executable).with_name("esml"))
DEEP = "(" * 300 + "nsites<3" + ")" * 300
MANY = " OR ".join(f"nsites={n}" for n in range(300))

CASES = [
    # esml label
    ("label: output is a folder", ["label", "{labeled}", "-m", "gfn2-xtb", "-o", "{folder}"], 2, "is a folder"),
    ("label: output format drops forces", ["label", "{labeled}", "-m", "gfn2-xtb", "-o", "{out}.pdb"], 2, "keep energies and forces"),
    ("label: output format unknown", ["label", "{labeled}", "-m", "gfn2-xtb", "-o", "{out}.foo"], 2, "rename the output"),
    ("label: cache is a folder", ["label", "{labeled}", "-m", "gfn2-xtb", "-o", "{out}.xyz", "--cache", "{folder}"], 2, "label cache"),
    ("label: cache is not a database", ["label", "{labeled}", "-m", "gfn2-xtb", "-o", "{out}.xyz", "--cache", "{junk}"], 2, "is not a label cache"),
    ("label: input missing", ["label", "{out}.xyz", "-m", "gfn2-xtb", "-o", "{out}.xyz"], 2, "no such file"),
    ("label: method unknown", ["label", "{labeled}", "-m", "nonsense", "-o", "{out}.xyz"], 2, "not understood"),
    ("label: basis unknown", ["label", "{labeled}", "-m", "pbe/no-such-basis", "-o", "{out}.xyz"], 2, "not one PySCF knows"),
    ("label: workers zero", ["label", "{labeled}", "-m", "gfn2-xtb", "-o", "{out}.xyz", "-j", "0"], 2, "--workers"),
    # esml train
    ("train: negative model size", ["train", "--data", "{labeled}", "--model", "equivariant", "--option", "features=-3", "-o", "{out}.pt"], 2, "rejected"),
    ("train: unknown model option", ["train", "--data", "{labeled}", "--option", "colour=3", "-o", "{out}.pt"], 2, "KEY=VALUE"),
    ("train: negative learning rate", ["train", "--data", "{labeled}", "--lr", "-1", "-o", "{out}.pt"], 2, "positive learning rate"),
    ("train: validation fraction above 1", ["train", "--data", "{labeled}", "--valid-fraction", "1.5", "-o", "{out}.pt"], 2, "--valid-fraction"),
    ("train: resume without a checkpoint", ["train", "--data", "{labeled}", "--resume", "-o", "{out}.pt"], 2, "no checkpoint"),
    ("train: unknown family", ["train", "--data", "{labeled}", "--model", "nequip", "-o", "{out}.pt"], 2, "unknown model"),
    ("train: output is a folder", ["train", "--data", "{labeled}", "-o", "{folder}"], 2, "is a folder"),
    # esml evaluate
    ("evaluate: a torch file that is no model", ["evaluate", "{torch_dict}", "{labeled}"], 2, "not an esml model"),
    ("evaluate: a text file as model", ["evaluate", "{junk}", "{labeled}"], 2, "not an esml model file"),
    ("evaluate: model missing", ["evaluate", "{out}.pt", "{labeled}"], 2, "no such model file"),
    ("evaluate: metrics into a folder", ["evaluate", "{model}", "{labeled}", "--json", "{folder}"], 2, "is a folder"),
    ("evaluate: unknown split", ["evaluate", "{model}", "{labeled}", "--split", "nowhere"], 2, "no frame has split"),
    # esml md, optimize, vibrate
    ("md: interval longer than the run", ["md", "{model}", "{labeled}", "--steps", "10", "--interval", "100", "-o", "{out}.xyz"], 2, "no frame would be saved"),
    ("md: trajectory format drops energies", ["md", "{model}", "{labeled}", "--steps", "10", "-o", "{out}.pdb"], 2, "keep energies and forces"),
    ("md: unknown thermostat", ["md", "{model}", "{labeled}", "--thermostat", "andersen", "-o", "{out}.xyz"], 2, "unknown thermostat"),
    ("md: model file missing", ["md", "{out}.pt", "{labeled}", "-o", "{out}.xyz"], 2, "no such model file"),
    ("md: watching σ of a model without one", ["md", "{model}", "{labeled}", "--max-force-sigma", "0.1", "-o", "{out}.xyz"], 2, "no uncertainty"),
    ("vibrate: zero displacement", ["vibrate", "{model}", "{labeled}", "--no-optimize", "--displacement", "0"], 2, "finite differences"),
    ("optimize: output format drops energies", ["optimize", "{model}", "{labeled}", "-o", "{out}.pdb"], 2, "keep energies and forces"),
    # the store and its queries
    ("query: a store that does not exist", ["query", "", "--db", "{out}.db"], 2, "no store at"),
    ("query: a folder as store", ["query", "", "--db", "{folder}"], 2, "is a folder"),
    ("ingest: a structure file as store", ["ingest", "{folder}", "--db", "{junk}"], 2, "not an esml store"),
    ("query: an integer no database holds", ["query", "nsites<99999999999999999999999", "--db", "{store}"], 2, "stored integer"),
    ("query: an infinite number", ["query", "nsites<1.5e999", "--db", "{store}"], 2, "not finite"),
    ("query: 300 nested parentheses", ["query", DEEP, "--db", "{store}"], 2, "parentheses deep"),
    ("query: 300 OR terms", ["query", MANY, "--db", "{store}"], 2, "conditions"),
    ("query: a filter that does not parse", ["query", "nsites <", "--db", "{store}"], 2, "does not parse"),
    ("query: unknown property", ["query", "colour = 1", "--db", "{store}"], 2, "unknown property"),
    ("models: a store that does not exist", ["models", "--db", "{out}.db"], 2, "no store at"),
    ("datasets list: a store that does not exist", ["datasets", "list", "--db", "{out}.db"], 2, "no store at"),
    ("datasets import: unknown set", ["datasets", "import", "qm8", "--db", "{out}.db"], 2, "unknown data set"),
    ("export: unknown format", ["export", "{out}.pdf", "--db", "{store}"], 2, "export format"),
    # esml learn
    ("learn: budget zero", ["learn", "{labeled}", "--budget", "0", "--out", "{out}"], 2, "--budget"),
    ("learn: start and --resume", ["learn", "{labeled}", "--resume", "--out", "{out}"], 2, "not both"),
    ("learn: resume without a run", ["learn", "--resume", "--out", "{folder}"], 2, "holds no run"),
    ("learn: validation refresh at most 1", ["learn", "{labeled}", "--validation-refresh", "0.5", "--out", "{out}"], 2, "growth factor"),
    ("learn: temperatures that are no numbers", ["learn", "{labeled}", "--temperature", "warm", "--out", "{out}"], 2, "--temperature"),
    ("learn: PySCF oracle on a cell", ["learn", "{cell}", "--oracle", "pbe/def2-svp", "--out", "{out}"], 2, "periodic"),
    ("learn: unknown oracle", ["learn", "{labeled}", "--oracle", "b3lyp", "--out", "{out}"], 2, "not understood"),
    # the rest
    ("vmc: unknown optimiser", ["vmc", "--atom", "He", "--optimizer", "lbfgs", "--checkpoint", "{out}.pt"], 2, "--optimizer"),
    ("vmc: unknown baseline", ["vmc", "--atom", "He", "--baseline", "ccsd", "--checkpoint", "{out}.pt"], 2, "--baseline"),
    ("sisso: unknown method", ["sisso", "{junk}", "--target", "y", "--features", "a", "--method", "lasso"], 2, "unknown method"),
    ("an unknown command", ["relax", "{labeled}"], 2, "no such command"),
    ("an unknown option", ["label", "{labeled}", "--colour", "red"], 2, "no such option"),
]


@pytest.fixture(scope="module")
def scratch(tmp_path_factory):
    from esml.data.readers import record_from_atoms
    from esml.data.store import open_store
    from esml.data.write import Source, write_records
    from esml.potentials import ANIPotential, save

    folder = tmp_path_factory.mktemp("faults")
    frames = []
    for seed in range(3):
        atoms = molecule("H2O")
        atoms.rattle(0.02, seed=seed)
        atoms.calc = calculator("gfn2-xtb")
        atoms.get_forces()
        frames.append(atoms)
    paths = {"labeled": folder / "water.xyz", "model": folder / "ani.pt", "store": folder / "store.db",
             "folder": folder / "empty", "junk": folder / "junk.xyz", "torch_dict": folder / "dict.pt",
             "cell": folder / "silicon.xyz"}
    ase.io.write(paths["labeled"], frames, format="extxyz")
    save(ANIPotential([1, 8]), paths["model"])
    store = open_store(str(paths["store"]))
    write_records(store, [record_from_atoms(atoms, "xtb", k, {}) for k, atoms in enumerate(frames)],
                  Source(path="water.xyz", sha256="0" * 64, parser="test"))
    store.engine.dispose()
    paths["folder"].mkdir()
    paths["junk"].write_text("this is not a structure, a store or a model\n")
    torch.save({"weights": torch.zeros(3)}, paths["torch_dict"])
    ase.io.write(paths["cell"], bulk("Si"), format="extxyz")
    return folder, paths


def digests(folder: Path) -> dict[str, str]:
    """Every file's SHA-256; SQLite's shared-memory index and an empty write-ahead log (what an open
    connection leaves beside a store it only read) are not content."""
    return {str(path.relative_to(folder)): hashlib.sha256(path.read_bytes()).hexdigest()
            for path in sorted(folder.rglob("*"))
            if path.is_file() and not path.name.endswith("-shm") and not (path.name.endswith("-wal") and not path.stat().st_size)}


def run_esml(arguments: list[str], monkeypatch, capsys) -> tuple[int, str]:
    """``esml ARGUMENTS`` through the command's own entry point, in this process (the matrix would
    spend most of its time starting Python and torch otherwise): exit status and stderr."""
    from esml.cli.main import main

    monkeypatch.setattr(sys, "argv", ["esml", *arguments])
    with pytest.raises(SystemExit) as exit:
        main()
    captured = capsys.readouterr()
    return exit.value.code, captured.out + captured.err


@pytest.mark.parametrize(("case", "arguments", "status", "fragment"), CASES, ids=[case for case, *_ in CASES])
def test_bad_input_gives_one_line_and_changes_nothing(scratch, case, arguments, status, fragment, monkeypatch, capsys):
    folder, paths = scratch
    values = {key: str(path) for key, path in paths.items()} | {"out": str(folder / "new" / "output")}
    before = digests(folder)
    monkeypatch.chdir(folder)
    code, output = run_esml([argument.format(**values) for argument in arguments], monkeypatch, capsys)
    lines = output.strip().splitlines()
    assert code == status, output
    assert len(lines) == 1 and lines[0].startswith("esml: error:"), output
    assert fragment in lines[0], lines[0]
    assert digests(folder) == before, f"{case} changed files"
    assert not (folder / "new").exists(), f"{case} left an output behind"


def test_the_matrix_covers_every_command():
    from esml.cli.main import app

    commands = {command.name for command in app.registered_commands} | {group.name for group in app.registered_groups}
    covered = {arguments[0] for _, arguments, *_ in CASES}
    uncovered = commands - covered
    # serve runs until stopped, attribute/fit-property/predict/learning-curve/materials/xc/demo have their own tests of bad input
    assert uncovered <= {"serve", "attribute", "fit-property", "predict", "learning-curve", "materials", "xc", "demo"}, uncovered


def test_debug_shows_the_traceback(tmp_path):
    run = subprocess.run([ESML, "--debug", "query", "", "--db", str(tmp_path / "none.db")], capture_output=True, text=True, timeout=120)
    assert run.returncode != 0 and "Traceback" in run.stderr and "no store at" in run.stderr


@pytest.mark.skipif(os.geteuid() == 0, reason="root may write anywhere: read-only folders cannot be tested as root")
def test_a_read_only_folder_is_refused_before_any_work(scratch, tmp_path):
    _, paths = scratch
    locked = tmp_path / "locked"
    locked.mkdir(mode=0o555)
    run = subprocess.run([ESML, "label", str(paths["labeled"]), "-m", "gfn2-xtb", "-o", str(locked / "out.xyz")],
                         capture_output=True, text=True, timeout=120)
    assert run.returncode == 2 and "cannot write" in run.stderr


def test_labeled_frames_are_written_in_the_format_their_name_asks_for(scratch, tmp_path):
    _, paths = scratch
    for name in ("out.traj", "out.extxyz"):
        run = subprocess.run([ESML, "label", str(paths["labeled"]), "-m", "gfn2-xtb", "-o", str(tmp_path / name), "-q"],
                             capture_output=True, text=True, timeout=120)
        assert run.returncode == 0, run.stderr
        again = ase.io.read(tmp_path / name, ":")
        assert len(again) == 3 and again[0].get_forces().shape == (3, 3)
    assert not list(tmp_path.glob(".*.tmp"))  # the temporary files of the atomic writes are gone


def test_a_resumed_run_keeps_its_settings_and_its_label_cache(tmp_path, monkeypatch, capsys):
    """--resume without --budget kept the default budget of 500 (a run started with 30 went on to
    60 oracle calls); options that describe the run were ignored without a word; another label cache
    repeated oracle calls."""
    from esml.active.config import LearnConfig
    from esml.active.loop import ActiveLearner, resumed_config
    from esml.qm.cache import LabelCache

    run, cache = tmp_path / "run", tmp_path / "first-cache.sqlite"
    ActiveLearner(run, LearnConfig(budget=30, temperatures=(300.0,)), LabelCache(cache)).start(molecule("H2O"))
    config, changed = resumed_config(run)
    assert config.budget == 30 and changed == []
    config, changed = resumed_config(run, budget=60, workers=2)
    assert (config.budget, config.workers, changed) == (60, 2, ["budget 30 → 60", "workers 1 → 2"])
    for option in (["--oracle", "gfn1-xtb"], ["--temperature", "600"], ["--steps", "100"], ["--seed", "3"]):
        code, output = run_esml(["learn", "--resume", "--out", str(run), *option], monkeypatch, capsys)
        assert code == 2 and output.count("\n") == 1 and f"{option[0]}: a resumed run keeps" in output, output
    from esml.active import run_files

    assert run_files.load_state(run).label_cache == str(cache.absolute())
