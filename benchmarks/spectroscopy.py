"""Anharmonic fundamentals against experiment (#39): VPT2 on the reference method's own surface
and on a surface learned from at most --samples reference calculations.

    python benchmarks/spectroscopy.py [--method b3lyp/def2-tzvp] [--molecules H2O,H2CO,CH4]
                                      [--surface reference,learned] [--samples 200] [--family mace] [--minutes 10]

For each molecule (ase.build names; experimental fundamentals in data/spectroscopy/experimental.json):
  reference: the method's minimum, its harmonic modes, cubic and semi-diagonal quartic constants by
             finite differences of its Hessians, VPT2 (esml.spectra.vpt2);
  learned:   --samples structures displaced along the reference normal modes
             (esml.spectra.surface.normal_mode_samples), labeled by the method with energies, forces and
             dipoles; a --family model trained on them in float64 for --minutes; then the model's own
             minimum, harmonic frequencies (against the method's), IR intensities and VPT2.
Every reference calculation goes through one label cache (results/spectroscopy/labels.sqlite), so an
interrupted run resumes and a rerun computes nothing twice; the labeled samples are written beside
it (committed gzipped under data/spectroscopy/). Fundamentals are matched to experiment
in ascending order. Writes results/spectroscopy.json: fraction_within_20_cm, fraction_within_10_cm,
n_fundamentals (over every learned-surface fundamental that has an experimental value, or the
reference surface's where no learned one was run), and a per-molecule table.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import time
from dataclasses import asdict, replace
from datetime import date
from pathlib import Path

import ase.io
import numpy as np
import torch
from ase.build import molecule
from ase.calculators.calculator import all_changes
from ase.calculators.singlepoint import SinglePointCalculator

from esml.atomic import write_text
from esml.calculator import PotentialCalculator
from esml.methods import parse_reference
from esml.qm.cache import LabelCache
from esml.qm.engine import ReferenceCalculator
from esml.simulate.relax import optimise
from esml.simulate.vibrations import harmonic_modes
from esml.spectra.report import deviations
from esml.spectra.settings import VPT2Settings
from esml.spectra.surface import normal_mode_samples
from esml.spectra.vpt2 import quartic_force_field, vpt2
from esml.training.config import family_config
from esml.training.data import split_frames
from esml.training.run import train_potential

HERE = Path(__file__).parent
WORK = HERE / "results" / "spectroscopy"
SCF_TOLERANCE = 1e-11


def experiment(name: str) -> np.ndarray:
    table = json.loads((HERE / "data" / "spectroscopy" / "experimental.json").read_text())
    return np.array([np.nan if v is None else v for v in table[name]["fundamentals_cm1"]], dtype=float)


class CountingCalculator(ReferenceCalculator):
    """Counts the distinct structures it is asked about (what the goal counts), cached or not."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.seen: set[bytes] = set()

    def calculate(self, atoms=None, properties=("energy",), system_changes=all_changes):
        super().calculate(atoms, properties, system_changes)
        self.seen.add(np.round(self.atoms.positions, 6).tobytes())

    def count(self) -> int:
        """Structures since the last call."""
        seen, self.seen = len(self.seen), set()
        return seen


def fundamentals_report(result, measured: np.ndarray) -> dict:
    return {"harmonic_cm1": result.harmonic.round(2).tolist(), "fundamentals_cm1": result.fundamentals.round(2).tolist(),
            "deperturbed_cm1": result.deperturbed.round(2).tolist(),
            "resonances": [{"mode": r.mode, "partners": list(r.partners), "gap_cm1": round(r.gap, 1), "coupling_cm1": round(r.coupling, 1)}
                           for r in result.resonances],
            "against_experiment": deviations(result.fundamentals, measured)}


def reference_surface(name: str, relaxed, calc: CountingCalculator, settings: VPT2Settings) -> tuple[dict, object]:
    """VPT2 on the method itself; the harmonic Hessian comes from the cache when computed before."""
    start = time.perf_counter()
    modes, derivatives = harmonic_modes(relaxed, calc, settings.displacement, dipole=True)
    field = quartic_force_field(modes, derivatives.hessian, calc, settings,
                                lambda done, total: print(f"  {name} reference Hessians {done}/{total}", flush=True))
    report = fundamentals_report(vpt2(field, settings), experiment(name))
    report["intensities_km_mol"] = modes.intensities(derivatives.dipole).round(2).tolist()
    report["seconds"] = round(time.perf_counter() - start, 1)
    return report, modes


def learned_surface(name: str, modes, calc: CountingCalculator, settings: VPT2Settings, args) -> dict:
    start = time.perf_counter()
    samples = normal_mode_samples(modes, args.samples, seed=0)
    for k, atoms in enumerate(samples):
        atoms.calc = calc
        atoms.get_forces()
        atoms.calc = SinglePointCalculator(atoms, **calc.results)  # its own labels: the calculator moves on
        atoms.info["split"] = "valid" if k % 10 == 9 else "train"  # every tenth for early stopping
    labeled = WORK / f"{name}-{args.method.replace('/', '_')}-{args.samples}.xyz"
    ase.io.write(labeled, samples, format="extxyz")
    frames = ase.io.read(labeled, ":")
    out = WORK / f"{name}-{args.family}-{args.samples}.pt"
    config = family_config(args.family, max_minutes=args.minutes, max_epochs=100000, patience=100000, float64=True,
                           dipole_weight=args.dipole_weight, min_learning_rate=1e-7)
    trained = train_potential(args.family, split_frames(frames, 0.1, 0), out, config, resume=out.with_name(out.name + ".ckpt").exists())
    from esml.potentials import load

    model = PotentialCalculator(load(out), dtype=torch.float64)
    minimum = optimise(modes.atoms, model, fmax=1e-5, steps=3000)
    learned_modes, derivatives = harmonic_modes(minimum, model, settings.displacement, dipole=True)
    result = vpt2(quartic_force_field(learned_modes, derivatives.hessian, model, settings), settings)
    report = fundamentals_report(result, experiment(name))
    report.update(
        harmonic_error_vs_reference_cm1=(learned_modes.wavenumbers - modes.wavenumbers).round(2).tolist(),
        harmonic_mae_vs_reference_cm1=round(float(np.abs(learned_modes.wavenumbers - modes.wavenumbers).mean()), 2),
        intensities_km_mol=learned_modes.intensities(derivatives.dipole).round(2).tolist(),
        training={"family": args.family, "samples": args.samples, "epochs": trained.epochs, "minutes": args.minutes,
                  "valid": {k: v for k, v in trained.valid.items() if k in ("energy_mae_per_structure", "force_mae", "dipole_mae")}},
        seconds=round(time.perf_counter() - start, 1))
    return report


def pooled(per_molecule: dict) -> dict:
    """The goal's figures over every fundamental with an experimental value: learned surfaces where run."""
    errors = []
    for name, entry in per_molecule.items():
        surface = entry.get("learned") or entry.get("reference")
        measured = experiment(name)
        known = ~np.isnan(measured)
        errors += list(np.abs(np.array(surface["fundamentals_cm1"])[known] - measured[known]))
    errors = np.array(errors)
    return {"n_fundamentals": int(errors.size), "fraction_within_20_cm": float((errors <= 20).mean()),
            "fraction_within_10_cm": float((errors <= 10).mean()), "mae_cm1": float(errors.mean())}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--method", default="b3lyp/def2-tzvp")
    parser.add_argument("--molecules", default="H2O,H2CO,CH4")
    parser.add_argument("--surface", default="reference,learned")
    parser.add_argument("--samples", type=int, default=200)
    parser.add_argument("--family", default="mace")
    parser.add_argument("--minutes", type=float, default=10.0)
    parser.add_argument("--dipole-weight", type=float, default=100.0)
    parser.add_argument("--threads", type=int, default=os.cpu_count())
    parser.add_argument("--out", type=Path, default=HERE / "results" / "spectroscopy.json")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    WORK.mkdir(parents=True, exist_ok=True)
    spec = replace(parse_reference(args.method), scf_tolerance=SCF_TOLERANCE)
    calc = CountingCalculator(spec, threads=args.threads, cache=LabelCache(WORK / "labels.sqlite"))
    settings = VPT2Settings()
    previous = json.loads(args.out.read_text()) if args.out.exists() else {}
    per_molecule = previous.get("molecules", {}) if previous.get("method") == args.method else {}
    for name in args.molecules.split(","):
        entry = per_molecule.setdefault(name, {})
        calc.count()
        relaxed = optimise(molecule(name), calc, fmax=1e-4, steps=500)
        modes, _ = harmonic_modes(relaxed, calc, settings.displacement, dipole=True)
        minimum_and_modes = calc.count()  # the learned surface needs these too
        if "reference" in args.surface:
            entry["reference"], _ = reference_surface(name, relaxed, calc, settings)
            entry["reference"]["reference_calculations"] = minimum_and_modes + calc.count()
        if "learned" in args.surface:
            entry["learned"] = learned_surface(name, modes, calc, settings, args)
            entry["learned"]["reference_calculations"] = minimum_and_modes + calc.count()
        print(name, json.dumps({k: v.get("against_experiment") for k, v in entry.items() if isinstance(v, dict)}), flush=True)
        report = {"benchmark": "spectroscopy", "date": date.today().isoformat(), "machine": platform.node(),
                  "method": args.method, "settings": asdict(settings), "threads": args.threads,
                  **pooled(per_molecule), "molecules": per_molecule}
        write_text(args.out, json.dumps(report, indent=2))


if __name__ == "__main__":
    main()
