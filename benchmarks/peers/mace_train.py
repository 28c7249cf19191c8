"""Train MACE-small (mace-torch 0.3.16) on our split under a wall-clock budget with `mace_run_train`'s
documented defaults (energy weight 1, forces weight 100, lr 0.01, AMSGrad, batch 10, EMA off) except:
hidden irreps 128x0e (the "small" size), r_max 5 Å, E0s by least squares ('average'), float32 (as esml
trains), on CPU. MACE has no time budget option, so a one-epoch trial measures the epoch time, the
real run gets as many epochs as fit the budget, and it is continued from its checkpoint while the
budget holds more epochs. Test errors come from MACE's own ASE calculator.

    python mace_train.py TRAIN.xyz VALID.xyz TEST.xyz[,TEST2.xyz...] MINUTES THREADS OUT.json WORKDIR

OUT.json holds the errors on the first test file as "test" and on every one as "tests".
"""

import json
import math
import os
import subprocess
import sys
import time
from pathlib import Path

import ase.io
import numpy as np


def with_ref_keys(source: str, target: Path) -> None:
    frames = ase.io.read(source, ":")
    for atoms in frames:
        atoms.info["REF_energy"] = atoms.get_potential_energy()
        atoms.arrays["REF_forces"] = atoms.get_forces()
        atoms.calc = None
    ase.io.write(target, frames, format="extxyz")


def run_mace(work: Path, name: str, epochs: int, threads: int, restart: bool = False) -> float:
    command = [
        str(Path(sys.executable).with_name("mace_run_train")), f"--name={name}", f"--work_dir={work}",
        f"--train_file={work / 'train.xyz'}", f"--valid_file={work / 'valid.xyz'}",
        "--energy_key=REF_energy", "--forces_key=REF_forces", "--model=MACE", "--hidden_irreps=128x0e",
        "--r_max=5.0", "--E0s=average", f"--max_num_epochs={epochs}", "--device=cpu",
        "--default_dtype=float32", "--seed=0", "--eval_interval=1",
    ] + (["--restart_latest"] if restart else [])
    environment = {**os.environ, "OMP_NUM_THREADS": str(threads), "TORCH_FORCE_NO_WEIGHTS_ONLY_LOAD": "1"}
    start = time.perf_counter()
    subprocess.run(command, check=True, env=environment, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    return time.perf_counter() - start


def errors(model_path: Path, test_path: str, threads: int) -> dict:
    import torch
    from mace.calculators import MACECalculator

    torch.set_num_threads(threads)
    calculator = MACECalculator(model_paths=str(model_path), device="cpu", default_dtype="float32")
    de, df, n = [], [], []
    for atoms in ase.io.read(test_path, ":"):
        reference_e, reference_f = atoms.get_potential_energy(), atoms.get_forces()
        atoms.calc = calculator
        de.append(atoms.get_potential_energy() - reference_e)
        df.append((atoms.get_forces() - reference_f).ravel())
        n.append(len(atoms))
    de, df, n = np.array(de), np.concatenate(df), np.array(n)
    return {"energy_mae": float(np.abs(de / n).mean()), "energy_rmse": float(np.sqrt(((de / n) ** 2).mean())),
            "energy_mae_per_structure": float(np.abs(de).mean()),
            "energy_rmse_per_structure": float(np.sqrt((de ** 2).mean())), "force_mae": float(np.abs(df).mean()),
            "force_rmse": float(np.sqrt((df ** 2).mean())), "n_structures": int(len(de))}


def main():
    train, valid, test, minutes, threads, out, work = sys.argv[1:8]
    work, threads = Path(work), int(threads)
    work.mkdir(parents=True, exist_ok=True)
    with_ref_keys(train, work / "train.xyz")
    with_ref_keys(valid, work / "valid.xyz")
    trial = run_mace(work, "trial", 1, threads)
    epochs = max(1, math.floor(60 * float(minutes) / trial))
    seconds = run_mace(work, "mace_small", epochs, threads)
    # The trial includes start-up and may overestimate an epoch: continue from MACE's own checkpoint
    # (--restart_latest) with the epochs the rest of the budget holds, until it holds no more.
    while (more := math.floor((60 * float(minutes) - seconds) / (seconds / epochs))) >= 1:
        epochs += more
        seconds += run_mace(work, "mace_small", epochs, threads, restart=True)
    model = work / "mace_small.model"
    tests = [errors(model, path, threads) for path in test.split(",")]
    result = {"model": "mace-small", "epochs": epochs, "trial_epoch_seconds": trial, "train_seconds": seconds,
              "test": tests[0], "tests": tests}
    Path(out).write_text(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
