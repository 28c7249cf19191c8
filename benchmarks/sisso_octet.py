"""SISSO on the 82 octet binaries: rock salt vs zinc blende, beside gplearn on the same data.

    python benchmarks/sisso_octet.py [--cv-repeats 10] [--gplearn-generations 40]

Primary features: IP, EA, HOMO, LUMO (eV) and r_s, r_p, r_d (Å) of atoms A and B; rung-2
feature space with dimensional analysis. Regression of ΔE = E(RS) - E(ZB) with 1D, 2D, 3D
descriptors (training RMSE over all 82, the anchor's figure, plus repeated leave-10%-out
cross-validated RMSE); classification RS/ZB with 1D and 2D descriptors (samples in overlap
regions, cross-validated misclassification); gplearn's genetic programming with the same draws.
Writes benchmarks/results/sisso_octet.json and the two descriptor maps as PNG.
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

import pandas as pd

from esml.interpret.feature_space import build_feature_space
from esml.interpret.genetic import GeneticConfig, cross_validate_genetic, fit_genetic, rmse
from esml.interpret.plots import plot_descriptor
from esml.interpret.sisso import SissoConfig, cross_validate, descriptor_values, fit_sisso

DATA = Path(__file__).parent / "data" / "octet_binaries.csv"
FEATURES = ["IP", "EA", "E_HOMO", "E_LUMO", "r_s", "r_p", "r_d"]
UNITS = ["eV", "eV", "eV", "eV", "Å", "Å", "Å"]
ANCHOR_RMSE = {1: 0.126, 2: 0.093, 3: 0.073}  # SISSO, rung 2, training RMSE over all 82 (eV)
N_SIS = {1: 1000, 2: 1000, 3: 200}
RESULTS = Path("benchmarks/results")


def timed(function, *args, **kwargs):
    start = time.perf_counter()
    value = function(*args, **kwargs)
    return value, time.perf_counter() - start


def regression(space, primary, y, repeats: int) -> list[dict]:
    rows = []
    for dimension, n_sis in N_SIS.items():
        config = SissoConfig(dimension=dimension, n_sis=n_sis, cv_repeats=repeats)
        descriptors, seconds = timed(fit_sisso, space, y, config)
        best = descriptors[-1]
        cv, cv_seconds = timed(cross_validate, space, y, primary, config)
        rows.append({"dimension": dimension, "n_sis": n_sis, "formula": best.formula, "features": list(best.formulas),
                     "rmse_train": best.score, "anchor_rmse_train": ANCHOR_RMSE[dimension],
                     "ratio_to_anchor": best.score / ANCHOR_RMSE[dimension], "rmse_cv": cv[-1],
                     "fit_seconds": seconds, "cv_seconds": cv_seconds})
        print(rows[-1], flush=True)
        if dimension == 2:
            plot_descriptor(descriptor_values(space, best, primary), y, best.formulas,
                            RESULTS / "sisso_octet_2d_regression.png", target_name="ΔE(RS−ZB) (eV)")
    return rows


def classification(space, primary, y, repeats: int) -> list[dict]:
    labels = (y > 0).astype(int)  # 1: zinc blende more stable
    config = SissoConfig(dimension=2, n_sis=50, classify=True, cv_repeats=repeats)
    descriptors, seconds = timed(fit_sisso, space, labels, config)
    cv = cross_validate(space, labels, primary, config)
    rows = [{"dimension": len(d.features), "features": list(d.formulas), "overlap_train": int(d.score),
             "misclassified_cv": e, "fit_seconds": seconds} for d, e in zip(descriptors, cv)]
    plot_descriptor(descriptor_values(space, descriptors[-1], primary), labels, descriptors[-1].formulas,
                    RESULTS / "sisso_octet_2d_classes.png", classify=True, labels=["rock salt", "zinc blende"],
                    target_name="stable")
    print(rows, flush=True)
    return rows


def genetic(primary, y, names, repeats: int, generations: int) -> dict:
    config = GeneticConfig(generations=generations, cv_repeats=repeats)
    model, seconds = timed(fit_genetic, primary, y, names, config)
    cv, cv_seconds = timed(cross_validate_genetic, primary, y, names, config)
    row = {"formula": str(model._program), "rmse_train": rmse(model, primary, y), "rmse_cv": cv,
           "population": config.population, "generations": generations, "fit_seconds": seconds,
           "cv_seconds": cv_seconds}
    print(row, flush=True)
    return row


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cv-repeats", type=int, default=10)
    parser.add_argument("--gplearn-generations", type=int, default=40)
    args = parser.parse_args()
    table = pd.read_csv(DATA)
    names = [f"{f}_{site}" for site in "AB" for f in FEATURES]
    primary, y = table[names].to_numpy(float), table["dE_RS_minus_ZB_eV"].to_numpy(float)
    space, build_seconds = timed(build_feature_space, primary, names, UNITS * 2, 2)
    RESULTS.mkdir(exist_ok=True)
    report = {"benchmark": "sisso_octet", "date": date.today().isoformat(),
              "machine": f"{platform.machine()}, {os.cpu_count()} cores", "command": "python " + " ".join(sys.argv),
              "n_samples": len(y), "n_features": len(space), "feature_space_seconds": build_seconds,
              "cv": f"{args.cv_repeats} repeats of leave-10%-out",
              "regression": regression(space, primary, y, args.cv_repeats),
              "classification": classification(space, primary, y, args.cv_repeats),
              "gplearn": genetic(primary, y, names, args.cv_repeats, args.gplearn_generations)}
    (RESULTS / "sisso_octet.json").write_text(json.dumps(report, indent=1) + "\n")


if __name__ == "__main__":
    main()
