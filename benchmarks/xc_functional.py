"""A learned functional against PBE and B3LYP, self-consistent, same basis and settings (issue #8).

    python benchmarks/xc_functional.py --model my-xc.pt
    python benchmarks/xc_functional.py --model my-xc.pt --set all

Three measurements, one JSON (benchmarks/results/xc_functional.json) and one plot:
1. ``esml xc evaluate``'s scores on the held-out G2 molecules: atomisation and reaction energies
   and vertical ionisation potentials against CCSD(T)/CBS, atomisation energies against
   experiment, H atom and H₂⁺ at 5 Å against exact, SCF convergence.
2. Analytic forces against central finite differences of the self-consistent energy (water,
   displaced off symmetry, def2-SVP, 1e-3 Bohr steps).
3. Cost: wall time of one SCF of aspirin (13 heavy atoms, def2-TZVP, density fitting) with the
   learned functional, PBE (its base GGA) and B3LYP, one after another on the same cores.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import time
from datetime import date
from pathlib import Path

import numpy as np
import torch
from ase.build import molecule
from ase.io import read

from esml.functionals.evaluation import evaluate
from esml.functionals.model import load
from esml.functionals.numint import learned_kohn_sham, nuclear_gradient
from esml.functionals.plots import plot_evaluation
from esml.functionals.scf import molecule_of, solve
from esml.functionals.shipped import SHIPPED
from esml.functionals.training_set import split, with_references
from esml.units import BOHR_TO_ANGSTROM

RESULTS = Path("benchmarks/results")


def force_check(model) -> dict:
    atoms = molecule("H2O")
    atoms.positions[1] += [0.05, 0.0, 0.03]
    atoms.info.update(charge=0, multiplicity=1)

    def converged(displaced):
        mean_field = learned_kohn_sham(molecule_of(displaced, "def2-svp"), model)
        mean_field.conv_tol = 1e-12
        mean_field.kernel()
        return mean_field

    analytic = nuclear_gradient(converged(atoms))
    step = 1e-3
    numeric = np.zeros_like(analytic)
    for atom in range(len(atoms)):
        for axis in range(3):
            energies = []
            for sign in (1, -1):
                displaced = atoms.copy()
                displaced.positions[atom, axis] += sign * step * BOHR_TO_ANGSTROM
                energies.append(converged(displaced).e_tot)
            numeric[atom, axis] = (energies[0] - energies[1]) / (2 * step)
    return {"max_abs_difference_ha_per_bohr": float(np.abs(analytic - numeric).max()),
            "analytic_ha_per_bohr": analytic.tolist(), "finite_difference_ha_per_bohr": numeric.tolist()}


def cost(model) -> dict:
    atoms = read("benchmarks/data/aspirin-start.xyz")
    atoms.info.update(charge=0, multiplicity=1)
    mol = molecule_of(atoms, "def2-tzvp")
    timings = {}
    for label, functional in (("pbe", "pbe"), ("model", model), ("b3lyp", "b3lyp")):
        began = time.perf_counter()
        _, run = solve(mol, functional)
        timings[label] = {"seconds": time.perf_counter() - began, **run}
        print(f"aspirin SCF, {label}: {timings[label]['seconds']:.1f} s, {run['cycles']} cycles", flush=True)
    return {"molecule": "aspirin (C9H8O4, 13 heavy atoms)", "basis": "def2-tzvp", "basis_functions": int(mol.nao),
            "timings": timings, "model_over_pbe": timings["model"]["seconds"] / timings["pbe"]["seconds"],
            "model_over_b3lyp": timings["model"]["seconds"] / timings["b3lyp"]["seconds"]}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", required=True, help="a file from `esml xc train` (or a shipped name)")
    parser.add_argument("--set", default="heldout", choices=("heldout", "train", "all"))
    parser.add_argument("--basis", default="def2-tzvp")
    parser.add_argument("--skip-cost", action="store_true")
    args = parser.parse_args()
    model, metadata = load(SHIPPED.get(args.model, Path(args.model)))
    molecules = with_references(split()["train"] + split()["heldout"] if args.set == "all" else split()[args.set])
    began = time.perf_counter()
    report = evaluate(model, molecules, args.basis, on_species=lambda f, s: print(f"  {f}: {s}", flush=True))
    report["evaluation_seconds"] = time.perf_counter() - began
    for name, scores in report["functionals"].items():
        print(f"{name}: atomisation MAE {scores['mae_atomization_kcal']:.2f} kcal/mol, ionisation MAE "
              f"{scores['mae_ionization_ev']:.3f} eV, H2+ 5 Å {scores['H2+@5_error_kcal']:+.1f}, "
              f"converged {scores['scf_converged_fraction']:.2f}", flush=True)
    report["forces"] = force_check(model)
    print(f"forces: max |analytic - finite difference| = {report['forces']['max_abs_difference_ha_per_bohr']:.1e} Ha/Bohr")
    if not args.skip_cost:
        report["cost"] = cost(model)
    report |= {"benchmark": "xc_functional", "model": args.model, "set": args.set, "date": date.today().isoformat(),
               "command": "python " + " ".join(sys.argv), "training": metadata.get("training", {}),
               "machine": f"{platform.machine()}, {os.cpu_count()} cores, torch {torch.__version__}"}
    RESULTS.mkdir(parents=True, exist_ok=True)
    out = RESULTS / f"xc_functional_{args.set}.json"
    out.write_text(json.dumps(report, indent=1) + "\n")
    plot_evaluation(report, RESULTS / f"xc_functional_{args.set}.png")
    print(f"wrote {out}")


if __name__ == "__main__":
    main()
