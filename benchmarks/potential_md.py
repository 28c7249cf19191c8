"""Stability and vibrations of the models trained by potential_accuracy.py.

    python benchmarks/potential_md.py [--dataset aspirin-500K] [--reference gfn2-xtb] [--ps 20]

For each esml model in benchmarks/results/models/DATASET-*.pt: NVT (Langevin, 300 K, 0.5 fs) for
--ps picoseconds from the relaxed start geometry, counting covalent bonds that break or form;
NVE for 5 ps from 300 K, with the total-energy drift in meV/atom/ps; harmonic frequencies of the
model's own minimum against the reference method's frequencies at its minimum (MAE over the
3N-6 modes, both sorted). Writes JSON (default benchmarks/results/potential_md-DATASET.json).
"""

from __future__ import annotations

import argparse
import json
import platform
import time
from datetime import date
from pathlib import Path

import ase.io
import numpy as np
import torch

from esml.potentials import load_calculator
from esml.qm.engine import reference_calculator
from esml.simulate.dynamics import run_md
from esml.simulate.relax import optimise
from esml.simulate.settings import MDSettings
from esml.simulate.vibrations import harmonic_modes

HERE = Path(__file__).parent


def start_structure(dataset: str):
    return ase.io.read(HERE / "data" / f"{dataset}.xyz.gz", index=0)


def frequencies(atoms, calc) -> np.ndarray:
    relaxed = optimise(atoms, calc, fmax=0.001, steps=3000)
    return harmonic_modes(relaxed, calc)[0].wavenumbers


def md_run(atoms, calc, settings: MDSettings, trajectory: Path | None = None) -> dict:
    start = time.perf_counter()
    _, summary = run_md(atoms, calc, settings, trajectory)
    return {"ps": settings.steps * settings.timestep_fs / 1000, "seconds": time.perf_counter() - start,
            "mean_temperature_K": summary.mean_temperature_K, "drift_meV_per_atom_per_ps": summary.drift_meV_per_atom_per_ps,
            "bonds_changed": summary.bonds_changed, "first_bond_change_fs": summary.first_bond_change_fs}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--dataset", default="aspirin-500K")
    parser.add_argument("--reference", default="gfn2-xtb")
    parser.add_argument("--ps", type=float, default=20.0)
    parser.add_argument("--nve-ps", type=float, default=5.0)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--out", type=Path, default=None)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    out = args.out or HERE / "results" / f"potential_md-{args.dataset}.json"
    reference = reference_calculator(args.reference)
    start = optimise(start_structure(args.dataset), reference, fmax=0.005)
    reference_modes = frequencies(start, reference)
    report = {"date": date.today().isoformat(), "machine": platform.machine(), "dataset": args.dataset,
              "reference": args.reference, "reference_frequencies_cm1": reference_modes.tolist(), "models": {}}
    for path in sorted((HERE / "results" / "models").glob(f"{args.dataset}-*.pt")):
        calc = load_calculator(path)
        modes = frequencies(start, calc)
        entry = {
            "frequency_mae_cm1": float(np.abs(modes - reference_modes).mean()),
            "frequency_max_error_cm1": float(np.abs(modes - reference_modes).max()),
            "nvt": md_run(start, calc, MDSettings("nvt", "langevin", 300.0, 0.5, int(args.ps * 2000), 20)),
            "nve": md_run(start, calc, MDSettings("nve", temperature_K=300.0, timestep_fs=0.5, steps=int(args.nve_ps * 2000), interval=20)),
        }
        report["models"][path.stem] = entry
        print(path.stem, json.dumps(entry), flush=True)
        out.write_text(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()
