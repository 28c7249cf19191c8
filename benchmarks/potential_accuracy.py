"""Accuracy at equal training time: esml's ANI and PaiNN against TorchANI and MACE-small, same split.

    python benchmarks/potential_accuracy.py [--dataset aspirin-500K] [--minutes 10] [--threads 2]
                                            [--models esml-ani esml-painn torchani mace] [--lr-patience 25]

The dataset (benchmarks/data/NAME.xyz.gz, made by md_datasets.py) holds 1000 'train' and 500
'test' frames; 50 of the training frames are held out for validation with seed 0, exactly as
`esml train --valid-fraction 0.05` does, and every model gets the same three files. Each model
trains for the same wall-clock budget on the same threads, one after another, then its test
energy and force errors are measured. esml's models are saved under benchmarks/results/models/
for the MD benchmark. Writes JSON (default benchmarks/results/potential_accuracy-NAME.json).
"""

from __future__ import annotations

import argparse
import json
import platform
import tempfile
import time
from dataclasses import asdict
from datetime import date
from pathlib import Path

import ase.io
import torch
from peer_envs import run_peer

from esml.structures import read_structures
from esml.training.config import TrainConfig, family_config
from esml.training.data import split_frames
from esml.training.run import train_potential

HERE = Path(__file__).parent
MODELS = ("esml-ani", "esml-painn", "torchani", "mace")


def train_esml(kind: str, splits, minutes: float, out: Path, options: dict, lr_patience: int) -> dict:
    config = family_config(kind, max_epochs=100000, max_minutes=minutes, patience=100000, lr_patience=lr_patience)
    start = time.perf_counter()
    result = train_potential(kind, splits, out, config, options)
    return {"model": f"esml-{kind}", "options": options, "epochs": result.epochs, "train_seconds": time.perf_counter() - start,
            "config": asdict(config), "test": result.test, "path": str(out)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--dataset", default="aspirin-500K")
    parser.add_argument("--minutes", type=float, default=10.0)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--models", nargs="*", choices=MODELS, default=list(MODELS))
    parser.add_argument("--option", action="append", default=[], help="KEY=JSON model option for esml's models, e.g. features=64.")
    parser.add_argument("--lr-patience", type=int, default=TrainConfig.lr_patience,
                        help="Epochs without improvement before esml's learning rate is halved.")
    parser.add_argument("--out", type=Path, default=None)
    args = parser.parse_args()
    out = args.out or HERE / "results" / f"potential_accuracy-{args.dataset}.json"
    torch.set_num_threads(args.threads)
    splits = split_frames(read_structures(HERE / "data" / f"{args.dataset}.xyz.gz"), valid_fraction=0.05, seed=0)
    results = json.loads(out.read_text())["results"] if out.exists() else {}
    with tempfile.TemporaryDirectory() as folder:
        files = {name: Path(folder) / f"{name}.xyz" for name in ("train", "valid", "test")}
        for name, frames in (("train", splits.train), ("valid", splits.valid), ("test", splits.test)):
            ase.io.write(files[name], frames, format="extxyz")
        for model in args.models:
            print(f"training {model} for {args.minutes} min", flush=True)
            if model.startswith("esml-"):
                kind = model.removeprefix("esml-")
                options = {key: json.loads(value) for key, _, value in (o.partition("=") for o in args.option)}
                settings = {**options, **({"lr_patience": args.lr_patience} if args.lr_patience != TrainConfig.lr_patience else {})}
                suffix = "".join(f"-{key}{value}" for key, value in settings.items())
                model = model + suffix
                results[model] = train_esml(kind, splits, args.minutes, HERE / "results" / "models" / f"{args.dataset}-{kind}{suffix}.pt", options,
                                            args.lr_patience)
            else:
                script = {"torchani": "torchani_train.py", "mace": "mace_train.py"}[model]
                answer = Path(folder) / f"{model}.json"
                extra = [Path(folder) / "mace-work"] if model == "mace" else []
                run_peer(model, script, files["train"], files["valid"], files["test"], args.minutes, args.threads, answer, *extra)
                results[model] = json.loads(answer.read_text())
            test = results[model]["test"]
            print(f"  {model}: energy MAE {1000 * test['energy_mae']:.2f} meV/atom, force MAE {1000 * test['force_mae']:.1f} meV/Å "
                  f"({results[model]['epochs']} epochs)", flush=True)
            out.parent.mkdir(parents=True, exist_ok=True)
            out.write_text(json.dumps({"date": date.today().isoformat(), "machine": platform.machine(), "dataset": args.dataset,
                                       "n_train": len(splits.train), "n_valid": len(splits.valid), "n_test": len(splits.test),
                                       "minutes_per_model": args.minutes, "threads": args.threads, "results": results}, indent=2))


if __name__ == "__main__":
    main()
