"""FCHL19 local kernel: esml's matrix-product kernel against qmllib's own, side by side.

    python benchmarks/property_kernel_speed.py [--sizes 200,400,800]

For N QM7 molecules, the N × N local Gaussian kernel (σ = 2, the same FCHL19 vectors) by
``qmllib.kernels.get_local_symmetric_kernel`` and by ``esml.properties.kernels.kernel``; the
largest difference between the two matrices is recorded with the times. Writes
benchmarks/results/property_kernel_speed.json.
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

import ase.io
import numpy as np

from esml.data.bundled import QM7_FILE
from esml.properties.kernels import kernel
from esml.properties.representations import featurize, fit_layout


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="200,400,800")
    parser.add_argument("--out", type=Path, default=Path("benchmarks/results/property_kernel_speed.json"))
    args = parser.parse_args()
    from qmllib.kernels import get_local_symmetric_kernel
    from qmllib.representations import generate_fchl19

    sizes = [int(n) for n in args.sizes.split(",")]
    frames = ase.io.read(QM7_FILE, f":{max(sizes)}")
    layout = fit_layout("fchl19", frames)
    padded = np.array([generate_fchl19(a.numbers, a.positions, elements=list(layout.elements), pad=layout.size)
                       for a in frames])
    rows = []
    for n in sizes:
        features = featurize(layout, frames[:n])
        start = time.perf_counter()
        ours = kernel(features, features, [2.0], "gaussian")[0]
        esml_s = time.perf_counter() - start
        start = time.perf_counter()
        theirs = get_local_symmetric_kernel(padded[:n], [a.numbers for a in frames[:n]], 2.0)
        qmllib_s = time.perf_counter() - start
        rows.append({"n_molecules": n, "esml_s": esml_s, "qmllib_s": qmllib_s, "speedup": qmllib_s / esml_s,
                     "max_abs_difference": float(np.abs(ours - theirs).max())})
        print(rows[-1], flush=True)
    report = {"benchmark": "property_kernel_speed", "date": date.today().isoformat(),
              "machine": f"{platform.machine()}, {os.cpu_count()} cores", "command": "python " + " ".join(sys.argv),
              "results": rows}
    args.out.write_text(json.dumps(report, indent=1) + "\n")


if __name__ == "__main__":
    main()
