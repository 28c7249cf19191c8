"""A learned Hamiltonian as PySCF's initial guess, against PySCF's own guesses (issue #40).

    python benchmarks/scf_guess.py [--train 160] [--heldout 30] [--workers 2] [--minutes 30]
                                   [--stage data|train|evaluate|all] [--guesses minao,atom,huckel,sap]

1. data: converged PBE/def2-SVP (density fitting) Fock matrices of QM9 molecules with at most
   ``--max-heavy`` heavy atoms (a seeded draw; the split is written to
   benchmarks/data/scf_guess/split.json), one file per molecule under benchmarks/results/scf_guess/
   samples/, so an interrupted run resumes;
2. train: the equivariant Hamiltonian model for ``--minutes`` (resumable checkpoint);
3. evaluate: SCF iterations and wall time from minao, atom, huckel, sap and the model (the one
   trained here, else esml's shipped ``ml``) on the held-out QM9 molecules and on larger ones (aspirin and 3BPA frames: over twice the heavy atoms
   of any training molecule), energies compared with minao's; the Hamiltonian, orbital-energy and
   HOMO–LUMO gap errors of the prediction. Writes benchmarks/results/scf_guess.json and a plot.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import time
from concurrent.futures import ProcessPoolExecutor
from datetime import date
from pathlib import Path

import numpy as np
from ase import Atoms

from esml.methods import parse_reference
from esml.units import HARTREE_TO_EV

HERE = Path(__file__).parent
WORK = HERE / "results" / "scf_guess"
SPLIT = HERE / "data" / "scf_guess" / "split.json"
SHARED = HERE.parent.parent / "shared" / "data"
METHOD = "pbe/def2-svp"
SEED = 7


def qm9_molecules(max_heavy: int, scan: int = 12000) -> dict[int, Atoms]:
    """QM9 molecules (by QM9 index) with at most ``max_heavy`` heavy atoms; QM9 is ordered by size,
    so the first ``scan`` records hold every one with up to 7."""
    from esml.data.bundled import qm9_records

    found = {}
    for record in qm9_records(limit=scan):
        if (record.atoms.numbers > 1).sum() <= max_heavy:
            found[record.properties["qm9_index"]] = record.atoms
    return found


def split(max_heavy: int, train: int, heldout: int) -> tuple[dict[int, Atoms], dict[int, Atoms]]:
    """The stored split if there is one, else a seeded draw written to SPLIT."""
    molecules = qm9_molecules(max_heavy)
    if SPLIT.exists():
        stored = json.loads(SPLIT.read_text())
        chosen_train, chosen_heldout = stored["train"], stored["heldout"]
    else:
        order = np.random.default_rng(SEED).permutation(sorted(molecules))
        chosen_train, chosen_heldout = sorted(map(int, order[:train])), sorted(map(int, order[train:train + heldout]))
        SPLIT.parent.mkdir(parents=True, exist_ok=True)
        SPLIT.write_text(json.dumps({"source": "QM9 (qm9pack)", "max_heavy_atoms": max_heavy, "seed": SEED,
                                     "train": chosen_train, "heldout": chosen_heldout}, indent=1))
    return {i: molecules[i] for i in chosen_train}, {i: molecules[i] for i in chosen_heldout}


def larger_molecules(frames: int = 2) -> dict[str, Atoms]:
    """Aspirin (13 heavy atoms, revised MD17) and 3BPA (15, its 300 K test set), evenly spaced frames."""
    import ase.io

    found = {}
    with np.load(SHARED / "rmd17" / "rmd17_aspirin_test_01.npz") as aspirin:
        for n in np.linspace(0, len(aspirin["coords"]) - 1, frames).astype(int):
            found[f"aspirin-{n}"] = Atoms(numbers=aspirin["nuclear_charges"], positions=aspirin["coords"][n])
    bpa = ase.io.read(SHARED / "3bpa" / "test_300K.xyz", index=":")
    for n in np.linspace(0, len(bpa) - 1, frames).astype(int):
        found[f"3bpa-{n}"] = Atoms(numbers=bpa[n].numbers, positions=bpa[n].positions)
    return found


def _label(args: tuple[Atoms, str]):
    from pyscf import lib

    from esml.hamiltonians.data import load_or_compute

    lib.num_threads(1)
    atoms, folder = args
    start = time.perf_counter()
    load_or_compute(atoms, parse_reference(METHOD), Path(folder))
    return time.perf_counter() - start


def make_data(molecules: list[Atoms], workers: int) -> None:
    folder = str(WORK / "samples")
    started = time.perf_counter()
    with ProcessPoolExecutor(workers) as pool:
        for done, _ in enumerate(pool.map(_label, [(atoms, folder) for atoms in molecules]), 1):
            if done % 20 == 0 or done == len(molecules):
                print(f"data: {done}/{len(molecules)} molecules, {time.perf_counter() - started:.0f} s", flush=True)


ELEMENTS = (1, 6, 7, 8, 9)
GUESSES = ("minao", "atom", "huckel", "sap")
TRAINED = WORK / "model.pt"


def evaluated_model() -> str:
    """The model trained here by the train stage, else the one esml ships (trained by the same stage)."""
    return str(TRAINED) if TRAINED.exists() else "ml"
OUT = HERE / "results" / "scf_guess.json"


def flat_goals(results: dict) -> dict:
    """The figures the issue names, at the top level of the JSON."""
    return {"iteration_ratio_vs_minao_heldout": results["heldout"]["iteration_ratio_vs_minao"]["model"],
            "iteration_ratio_vs_minao_larger": results["larger"]["iteration_ratio_vs_minao"]["model"],
            "max_iteration_ratio_vs_minao": max(results["heldout"]["max_iteration_ratio_vs_minao"],
                                                results["larger"]["max_iteration_ratio_vs_minao"]),
            "time_ratio_vs_minao_larger": results["larger"]["time_ratio_vs_minao"]["model"],
            "gap_mae_eV_heldout": float(np.mean([abs(row["gap_error_eV"]) for row in results["prediction_heldout"]])),
            "fock_mae_uEh_heldout": float(np.mean([row["fock_mae_uEh"] for row in results["prediction_heldout"]])),
            "orbital_basis_rms_uEh_heldout": float(np.mean([row["orbital_basis_rms_uEh"] for row in results["prediction_heldout"]])),
            "occupied_orbital_energy_mae_uEh_heldout": float(np.mean([row["occupied_orbital_energy_mae_uEh"]
                                                                       for row in results["prediction_heldout"]]))}


def plot(results: dict) -> None:
    """SCF iterations per guess, held-out QM9 and larger molecules side by side."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    figure, axes = plt.subplots(1, 2, figsize=(9, 3.5), sharey=True)
    for ax, part in zip(axes, ("heldout", "larger")):
        rows = [row for row in results["per_molecule"] if row["name"].startswith("qm9") == (part == "heldout")]
        guesses = list(rows[0]["runs"])
        ax.boxplot([[row["runs"][guess]["cycles"] for row in rows] for guess in guesses], tick_labels=guesses)
        ax.set_title(f"{'held-out QM9' if part == 'heldout' else 'larger (aspirin, 3BPA)'}: {len(rows)} molecules")
    axes[0].set_ylabel(f"SCF iterations, {METHOD}")
    figure.tight_layout()
    figure.savefig(OUT.with_suffix(".png"), dpi=120)


def load_samples(molecules: list[Atoms]) -> list:
    from esml.hamiltonians.data import load_or_compute

    return [load_or_compute(atoms, parse_reference(METHOD), WORK / "samples") for atoms in molecules]


def train_model(molecules: list[Atoms], minutes: float) -> dict:
    import torch

    from esml.hamiltonians.basis import element_basis
    from esml.hamiltonians.model import HamiltonianModel
    from esml.hamiltonians.training import FitSettings, fit, load_model

    torch.manual_seed(0)
    torch.set_num_threads(2)
    basis = parse_reference(METHOD).basis
    model = HamiltonianModel([element_basis(basis, z) for z in ELEMENTS], basis, METHOD)
    state = fit(model, load_samples(molecules), FitSettings(minutes=minutes), WORK / "checkpoint.pt", TRAINED)
    _, kept = load_model(TRAINED)
    (WORK / "history.json").write_text(json.dumps({"epochs": state["epoch"], "minutes": state["seconds"] / 60, "kept": kept,
                                                   "history": state["history"]}))
    return kept


def _scf_runs(args: tuple[str, Atoms, str, tuple[str, ...]]) -> dict:
    """One molecule from every guess, one after another in this process (comparable timings)."""
    from dataclasses import replace

    from pyscf import lib

    from esml.hamiltonians.guess import model_of
    from esml.qm.engine import compute

    lib.num_threads(1)
    name, atoms, model, guesses = args
    model_of(model)  # loaded once per process, before the clock runs, as a long-running labeler would
    spec = parse_reference(METHOD)
    runs = {}
    for guess in (*guesses, model):
        began = time.perf_counter()
        result = compute(atoms, replace(spec, initial_guess=guess), forces=False, name=name)
        # the learned guess builds one Fock matrix (of the minao density) before the SCF: counted as an iteration
        runs["model" if guess == model else guess] = {"cycles": int(result["scf_cycles"]) + (guess == model),
                                                      "seconds": time.perf_counter() - began, "energy_eV": float(result["energy"])}
    return {"name": name, "heavy_atoms": int((atoms.numbers > 1).sum()), "runs": runs}


def matrix_scores(fock: np.ndarray, sample) -> dict:
    """A Fock matrix against the converged one: AO element MAE (µEh, the published measure), RMS
    error in the converged orbitals' basis (µEh, what the eigenproblem sees), occupied orbital-energy
    MAE (µEh) and HOMO–LUMO gap error (eV)."""
    import scipy.linalg

    energies = scipy.linalg.eigh(fock, sample.overlap, eigvals_only=True)
    orbitals = scipy.linalg.eigh(sample.fock, sample.overlap)[1]
    occupied = sample.n_occupied
    gap, true_gap = energies[occupied] - energies[occupied - 1], sample.mo_energy[occupied] - sample.mo_energy[occupied - 1]
    return {"fock_mae_uEh": float(np.abs(fock - sample.fock).mean() * 1e6),
            "orbital_basis_rms_uEh": float(np.sqrt(((orbitals.T @ (fock - sample.fock) @ orbitals) ** 2).mean()) * 1e6),
            "occupied_orbital_energy_mae_uEh": float(np.abs(energies[:occupied] - sample.mo_energy[:occupied]).mean() * 1e6),
            "gap_error_eV": float((gap - true_gap) * HARTREE_TO_EV)}


def prediction_errors(molecules: dict[str, Atoms]) -> list[dict]:
    """The model's Fock matrix against the converged one, and the baseline's (the minao density's
    Fock matrix, which the model corrects) beside it."""
    import torch

    from esml.hamiltonians.guess import model_of

    model = model_of(evaluated_model())
    rows = []
    for name, sample in zip(molecules, load_samples(list(molecules.values()))):
        with torch.no_grad():
            fock = sample.baseline + model(torch.from_numpy(sample.numbers), torch.from_numpy(sample.positions)).numpy()
        rows.append({"name": name, **matrix_scores(fock, sample),
                     **{f"baseline_{key}": value for key, value in matrix_scores(sample.baseline, sample).items()}})
    return rows


def summarise(rows: list[dict]) -> dict:
    totals = {guess: sum(row["runs"][guess]["cycles"] for row in rows) for guess in rows[0]["runs"]}
    seconds = {guess: sum(row["runs"][guess]["seconds"] for row in rows) for guess in rows[0]["runs"]}
    return {"molecules": len(rows), "total_cycles": totals, "total_seconds": seconds,
            "iteration_ratio_vs_minao": {guess: totals[guess] / totals["minao"] for guess in totals},
            "time_ratio_vs_minao": {guess: seconds[guess] / seconds["minao"] for guess in seconds},
            "max_iteration_ratio_vs_minao": max(row["runs"]["model"]["cycles"] / row["runs"]["minao"]["cycles"] for row in rows),
            "max_energy_difference_Eh": max(abs(row["runs"][guess]["energy_eV"] - row["runs"]["minao"]["energy_eV"]) / HARTREE_TO_EV
                                            for row in rows for guess in row["runs"])}


def evaluate(heldout: dict[str, Atoms], larger: dict[str, Atoms], guesses: tuple[str, ...], workers: int) -> dict:
    jobs = [(name, atoms, evaluated_model(), guesses) for name, atoms in {**heldout, **larger}.items()]
    jobs.sort(key=lambda job: -len(job[1]))  # largest first: the two processes finish together
    rows, started = {}, time.perf_counter()
    with ProcessPoolExecutor(workers) as pool:
        for row in pool.map(_scf_runs, jobs):
            rows[row["name"]] = row
            cycles = ", ".join(f"{guess} {run['cycles']}" for guess, run in row["runs"].items())
            print(f"evaluate: {len(rows)}/{len(jobs)} {row['name']}: {cycles} cycles, {time.perf_counter() - started:.0f} s", flush=True)
    held = [rows[name] for name in heldout]
    big = [rows[name] for name in larger]
    return {"heldout": summarise(held), "larger": summarise(big), "per_molecule": held + big,
            "prediction_heldout": prediction_errors(heldout), "prediction_larger": prediction_errors(larger)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--train", type=int, default=160)
    parser.add_argument("--heldout", type=int, default=30)
    parser.add_argument("--max-heavy", type=int, default=6)
    parser.add_argument("--evaluate", type=int, default=20, help="held-out molecules whose SCF is run from every guess")
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--larger-frames", type=int, default=2, help="frames of aspirin and of 3BPA evaluated")
    parser.add_argument("--guesses", default=",".join(GUESSES), help="PySCF's guesses run beside the model (minao first: the ratios' reference)")
    parser.add_argument("--minutes", type=float, default=30.0)
    parser.add_argument("--stage", choices=("data", "train", "evaluate", "all"), default="all")
    args = parser.parse_args()
    train, heldout = split(args.max_heavy, args.train, args.heldout)
    larger = larger_molecules(args.larger_frames)
    if args.stage in ("data", "all"):
        make_data(list(train.values()) + list(heldout.values()) + list(larger.values()), args.workers)
    if args.stage in ("train", "all"):
        kept = train_model(list(train.values()), args.minutes)
        print(f"trained: kept epoch {kept['epoch']}, validation Fock MAE {kept['validation_mae'] * 1e6:.0f} µEh, "
              f"rotation RMS {kept['validation_rotation_rms']:.2e}")
    if args.stage in ("evaluate", "all"):
        heldout_named = {f"qm9-{index}": atoms for index, atoms in list(heldout.items())[:args.evaluate]}
        results = evaluate(heldout_named, larger, tuple(args.guesses.split(",")), args.workers)
        results.update(date=str(date.today()), machine=f"{platform.node()} ({os.cpu_count()} cores)", method=METHOD,
                       command="python benchmarks/scf_guess.py " + " ".join(sys.argv[1:]), training_molecules=len(train), model=evaluated_model(),
                       training=json.loads((WORK / "history.json").read_text()) if (WORK / "history.json").exists() else None)
        results.update(flat_goals(results))
        OUT.write_text(json.dumps(results, indent=1))
        plot(results)
        print(json.dumps(flat_goals(results), indent=1))


if __name__ == "__main__":
    main()
