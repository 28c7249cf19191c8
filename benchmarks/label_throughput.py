"""Labeling throughput: esml serial, 2 local workers and a 2-worker Dask LocalCluster,
against a bare loop of ASE + engine calls doing the same work, plus the cached re-run.

    python benchmarks/label_throughput.py [--frames 200] [--dft-frames 200] [--out FILE]

Frames: ethanol from GFN2-xTB Langevin MD at 500 K (0.5 fs, every 10th step after 500
steps of equilibration). Writes JSON (default benchmarks/results/label_throughput.json).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import tempfile
import time
from datetime import date
from pathlib import Path

import ase.io
from ase.build import molecule

from esml.qm import calculator, parse_method
from esml.qm.cache import LabelCache
from esml.qm.label import label_structures
from esml.simulate.dynamics import sample_langevin
from esml.units import ANGSTROM_TO_BOHR


def ethanol_frames(n: int) -> list:
    equilibrated = sample_langevin(molecule("CH3CH2OH"), calculator("gfn2-xtb"), 500.0, 500, 500, seed=1)[-1]
    return sample_langevin(equilibrated, calculator("gfn2-xtb"), 500.0, 10 * n, 10, seed=2)


def bare_xtb(frames) -> float:
    """What a user writes without esml: tblite's own ASE calculator, energy and forces."""
    from tblite.ase import TBLite

    start = time.perf_counter()
    for atoms in frames:
        atoms = atoms.copy()
        atoms.calc = TBLite(method="GFN2-xTB", verbosity=0)
        atoms.get_potential_energy(), atoms.get_forces(), atoms.calc.results["dipole"], atoms.calc.results["charges"]
    return time.perf_counter() - start


def bare_pyscf(frames) -> float:
    """The same work as esml's PBE/def2-SVP label: DF-RKS energy, gradient, dipole, Mulliken charges."""
    from pyscf import dft, gto

    start = time.perf_counter()
    for atoms in frames:
        mol = gto.M(atom=list(zip(atoms.numbers.tolist(), atoms.positions * ANGSTROM_TO_BOHR)), unit="Bohr", basis="def2-svp", verbose=0)
        mf = dft.RKS(mol, xc="pbe").density_fit()
        mf.conv_tol = 1e-9
        mf.kernel()
        mf.nuc_grad_method().kernel()
        mf.dip_moment(unit="au", verbose=0)
        mf.mulliken_pop(verbose=0)
    return time.perf_counter() - start


def timed_label(frames, spec, cache_path, **options) -> tuple[float, dict]:
    start = time.perf_counter()
    _, report = label_structures(frames, spec, LabelCache(cache_path), **options)
    seconds = time.perf_counter() - start
    assert report.labeled == len(frames) and not report.failures, report
    return seconds, {"computed": report.computed, "cached": report.cached}


def cli_rerun_seconds(frames, method: str, cache_path: Path, workdir: Path, extra: list[str]) -> float:
    """Wall time of the whole `esml label` command when every frame is cached (process start included)."""
    source, target = workdir / "frames.xyz", workdir / "labeled.xyz"
    ase.io.write(source, frames)
    command = [str(Path(sys.executable).with_name("esml")), "label", str(source), "-m", method, "-o", str(target), "-q", "--cache", str(cache_path), *extra]
    start = time.perf_counter()
    subprocess.run(command, check=True)
    return time.perf_counter() - start


def measure(method: str, frames, bare, workdir: Path, settings: dict, cli_extra: list[str]) -> dict:
    from distributed import LocalCluster

    spec = parse_method(method, **settings)
    print(f"{method}: {len(frames)} frames", flush=True)
    row = {"method": spec.label, "settings": settings, "frames": len(frames)}
    row["bare_loop_s"] = bare(frames)
    print(f"  bare_loop: {row['bare_loop_s']:.1f} s", flush=True)
    for mode, options in (("esml_serial", {}), ("esml_workers2", {"workers": 2})):
        row[f"{mode}_s"], _ = timed_label(frames, spec, workdir / f"{spec.name}-{mode}.sqlite", **options)
        print(f"  {mode}: {row[f'{mode}_s']:.1f} s", flush=True)
    # The cluster lives only for its own measurement: its scheduler thread in this process
    # would otherwise compete with the OpenMP threads of the serial runs.
    with LocalCluster(n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None) as cluster:
        row["esml_dask2_s"], _ = timed_label(frames, spec, workdir / f"{spec.name}-dask.sqlite", scheduler=cluster.scheduler_address)
    print(f"  esml_dask2: {row['esml_dask2_s']:.1f} s", flush=True)
    row["cache_rerun_in_process_s"], counts = timed_label(frames, spec, workdir / f"{spec.name}-esml_serial.sqlite")
    assert counts["computed"] == 0
    row["cache_rerun_cli_s"] = cli_rerun_seconds(frames, method, workdir / f"{spec.name}-esml_serial.sqlite", workdir, cli_extra)
    row["overhead_vs_bare_loop"] = row["esml_serial_s"] / row["bare_loop_s"] - 1
    for mode in ("bare_loop", "esml_serial", "esml_workers2", "esml_dask2"):
        row[f"{mode}_frames_per_s"] = len(frames) / row[f"{mode}_s"]
    print(json.dumps(row, indent=1), flush=True)
    return row


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--frames", type=int, default=200, help="frames for gfn2-xtb")
    parser.add_argument("--dft-frames", type=int, default=200, help="frames (the first of the same set) for pbe/def2-svp")
    parser.add_argument("--out", type=Path, default=Path(__file__).parent / "results" / "label_throughput.json")
    args = parser.parse_args()

    frames = ethanol_frames(args.frames)
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        workdir = Path(tmp)
        rows.append(measure("gfn2-xtb", frames, bare_xtb, workdir, {}, []))
        rows.append(measure("pbe/def2-svp", frames[: args.dft_frames], bare_pyscf, workdir, {"density_fit": True}, ["--density-fit"]))
    result = {
        "benchmark": "label_throughput",
        "date": date.today().isoformat(),
        "machine": f"{platform.machine()}, {os.cpu_count()} cores, {platform.python_version()}",
        "command": "python benchmarks/label_throughput.py " + " ".join(sys.argv[1:]),
        "rows": rows,
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=2))
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
