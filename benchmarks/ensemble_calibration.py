"""Is the ensemble's force spread a usable uncertainty? Coverage before and after calibration.

    python benchmarks/ensemble_calibration.py [--members 4] [--minutes 3] [--calibration aspirin-500K]
                                              [--test aspirin-300K aspirin-600K]

Trains an ANI ensemble (members in parallel processes, each for --minutes) on the calibration
set's training split, fits a calibration of the per-component force σ on its test split, and
measures on independent frames (other temperatures) the fraction of force-component errors inside
±1σ and ±2σ, raw and calibrated. Writes JSON and a reliability plot (PNG) to benchmarks/results/.
An ensemble already in benchmarks/results/models/ is reused unless --retrain is given.
"""

from __future__ import annotations

import argparse
import json
import platform
from datetime import date
from pathlib import Path

import numpy as np

from esml.potentials import load
from esml.structures import read_structures
from esml.training.calibration import METHODS, coverage, fit_calibration, reliability_curve, reliability_plot
from esml.training.config import TrainConfig
from esml.training.data import split_frames
from esml.training.evaluate import evaluate_frames
from esml.training.run import train_ensemble

HERE = Path(__file__).parent


def force_errors_and_spread(potential, frames) -> tuple[np.ndarray, np.ndarray]:
    """Per force component: error of the ensemble mean (eV/Å) and the members' standard deviation."""
    result = evaluate_frames(potential, frames)
    return result.force_errors, result.forces_std


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--members", type=int, default=4)
    parser.add_argument("--minutes", type=float, default=3.0)
    parser.add_argument("--calibration", default="aspirin-500K")
    parser.add_argument("--test", nargs="*", default=["aspirin-300K", "aspirin-600K"])
    parser.add_argument("--retrain", action="store_true", help="Train again even if the ensemble file exists.")
    args = parser.parse_args()
    splits = split_frames(read_structures(HERE / "data" / f"{args.calibration}.xyz.gz"), valid_fraction=0.05, seed=0)
    model_path = HERE / "results" / "models" / f"{args.calibration}-ani-ensemble{args.members}.pt"
    config = TrainConfig(max_epochs=100000, patience=100000, max_minutes=args.minutes)
    if args.retrain or not model_path.exists():
        train_ensemble("ani", splits, model_path, config, args.members)
    ensemble = load(model_path)
    calibration_errors, calibration_sigma = force_errors_and_spread(ensemble, splits.test)
    test_frames = [atoms for name in args.test for atoms in read_structures(HERE / "data" / f"{name}.xyz.gz")]
    errors, sigma = force_errors_and_spread(ensemble, test_frames)
    report = {"date": date.today().isoformat(), "machine": platform.machine(), "members": args.members,
              "minutes_per_member": args.minutes, "calibration_set": f"{args.calibration} test split ({len(splits.test)} frames)",
              "test_sets": args.test, "n_test_frames": len(test_frames),
              "test_force_mae": float(np.abs(errors).mean()), "raw": {}, "calibrated": {}}
    curves = {"raw": reliability_curve(errors, sigma)}
    report["raw"] = {"within_1_sigma": coverage(errors, sigma, 1), "within_2_sigma": coverage(errors, sigma, 2)}
    for method in METHODS:
        calibrated = fit_calibration(calibration_errors, calibration_sigma, method).apply(sigma)
        report["calibrated"][method] = {"within_1_sigma": coverage(errors, calibrated, 1),
                                        "within_2_sigma": coverage(errors, calibrated, 2)}
        curves[f"calibrated ({method})"] = reliability_curve(errors, calibrated)
    report["scale_factor"] = fit_calibration(calibration_errors, calibration_sigma, "scale").scale
    stem = f"ensemble_calibration-{args.calibration}"
    reliability_plot(curves, HERE / "results" / f"{stem}.png", f"ANI ×{args.members}: force components of {len(test_frames)} frames")
    (HERE / "results" / f"{stem}.json").write_text(json.dumps(report, indent=2))
    print(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()
