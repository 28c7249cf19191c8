"""esml's neural-wavefunction VMC against the exact energies of small atoms and molecules (issue #7).

    python benchmarks/vmc_energies.py --systems H2,He --minutes 8
    python benchmarks/vmc_energies.py --systems LiH --minutes 13 --peer deepqmc
    python benchmarks/vmc_energies.py --systems LiH --peer deepqmc --peer-only   # the peer beside an earlier esml run
    python benchmarks/vmc_energies.py --systems Be --minutes 10
    python benchmarks/vmc_energies.py --systems Li2 --minutes 15

For each system: a wall-clock budget for the optimisation (``--minutes``), then the energy from
``--evaluation-steps`` sampling steps with frozen parameters, with a blocking error bar. The time
reported is the whole run (the baseline's SCF, equilibration, optimisation, evaluation). The fraction
of the correlation energy is (E_HF - E) / (E_HF - E_exact) against the Hartree–Fock limit.
With ``--peer deepqmc`` deepqmc 1.2.0 (its venv from `make peers`) then runs the same system
for the same whole wall time, on the same cores, and its own energy estimate at that moment is
stored beside esml's (benchmarks/peers/deepqmc_vmc.py says how it is taken).
Writes benchmarks/results/vmc_energies.json and one convergence plot per system.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import tempfile
import time
from dataclasses import asdict, replace
from datetime import date
from pathlib import Path

import torch
from ase import Atoms
from peer_envs import run_peer

from esml import units
from esml.qmc.config import BASELINES, DEFAULT_RATES, OptimizerConfig, VMCConfig
from esml.qmc.plots import plot_convergence
from esml.qmc.system import atom, from_atoms
from esml.qmc.vmc import evaluate, optimise, start

BOHR = units.BOHR_TO_ANGSTROM
# Geometries (Bohr), exact non-relativistic energies and Hartree–Fock limits (Ha), as in issue #7
# and the PauliNet / FermiNet papers' tables.
SYSTEMS = {
    "H2": (Atoms("H2", positions=[[0, 0, 0], [0, 0, 1.4 * BOHR]]), -1.17447, -1.13363),
    "He": (Atoms("He"), -2.90372, -2.86168),
    "LiH": (Atoms("LiH", positions=[[0, 0, 0], [0, 0, 3.015 * BOHR]]), -8.07055, -7.98735),
    "Be": (Atoms("Be"), -14.66736, -14.57302),
    "Li2": (Atoms("Li2", positions=[[0, 0, 0], [0, 0, 5.051 * BOHR]]), -14.9954, -14.87152),
}


def run_one(name: str, config: VMCConfig) -> dict:
    atoms, exact, hartree_fock_limit = SYSTEMS[name]
    system = atom(name) if len(atoms) == 1 else from_atoms(atoms)
    began = time.perf_counter()
    run = start(system, config)
    last = [time.perf_counter()]

    def show(current) -> None:
        if time.perf_counter() - last[0] > 30:
            last[0] = time.perf_counter()
            recent = current.history[-50:]
            print(f"  {name} step {current.step} ({current.seconds:.0f} s): "
                  f"E ≈ {sum(r['energy'] for r in recent) / len(recent):.5f}", flush=True)

    optimise(run, on_step=show)
    result = asdict(evaluate(run))
    seconds = time.perf_counter() - began
    fraction = (hartree_fock_limit - result["energy_ha"]) / (hartree_fock_limit - exact)
    record = {"system": name, "command": "python " + " ".join(sys.argv), **result, "exact_ha": exact,
              "error_vs_exact_mha": 1000 * (result["energy_ha"] - exact),
              "hartree_fock_limit_ha": hartree_fock_limit, "hartree_fock_basis_ha": run.reference.hartree_fock_energy,
              "baseline": run.reference.method, "baseline_ha": run.reference.energy,
              "correlation_fraction": fraction, "steps": run.step, "optimisation_s": run.seconds,
              "total_s": seconds, "events": run.events, "history": run.history}
    print(f"{name}: E = {result['energy_ha']:.5f} ± {result['error_ha']:.5f} Ha, exact {exact}, "
          f"{record['error_vs_exact_mha']:+.2f} mHa, {100 * fraction:.1f} % of the correlation energy, "
          f"{run.step} steps, {seconds:.0f} s in all", flush=True)
    plot_convergence(run.history, run.reference, result, f"{name}: {run.step} steps, {seconds:.0f} s",
                     Path(f"benchmarks/results/vmc_{name}.png"), exact=exact)
    return record


def run_peer_beside(record: dict, peer: str) -> dict:
    """``peer`` on the same system for as long as esml's whole run took."""
    atoms = SYSTEMS[record["system"]][0]
    coordinates = ",".join(f"[{x:.6f},{y:.6f},{z:.6f}]" for x, y, z in atoms.positions / BOHR)
    with tempfile.TemporaryDirectory() as workdir:  # its checkpoints and logs are not kept
        result = run_peer(peer, f"{peer}_vmc.py", record["system"], record["total_s"], workdir,
                          f"hamil.mol.coords=[{coordinates}]", "hamil.mol.unit=bohr", json_stdout=True)
    exact, limit = record["exact_ha"], record["hartree_fock_limit_ha"]
    result.update(error_vs_exact_mha=1000 * (result["energy_ha"] - exact),
                  correlation_fraction=(limit - result["energy_ha"]) / (limit - exact))
    print(f"{peer} {record['system']}: E = {result['energy_ha']:.5f} ± {result['error_ha']:.5f} Ha after "
          f"{result['seconds']:.0f} s, {result['error_vs_exact_mha']:+.2f} mHa, "
          f"{100 * result['correlation_fraction']:.1f} % of the correlation energy", flush=True)
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--systems", default="H2,He")
    parser.add_argument("--minutes", type=float, default=8.0, help="optimisation budget per system")
    parser.add_argument("--batch", type=int, default=256)
    parser.add_argument("--baseline", choices=BASELINES, default=VMCConfig.baseline)
    parser.add_argument("--optimizer", default="sr")
    parser.add_argument("--learning-rate", type=float, default=DEFAULT_RATES["sr"])
    parser.add_argument("--evaluation-steps", type=int, default=500)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", type=Path, default=Path("benchmarks/results/vmc_energies.json"))
    parser.add_argument("--peer", choices=["deepqmc"], help="run this peer beside each system, for the same time")
    parser.add_argument("--peer-only", action="store_true", help="keep esml's earlier records in --out; run the peer only")
    args = parser.parse_args()
    config = VMCConfig(steps=10**7, batch=args.batch, max_seconds=60 * args.minutes, seed=args.seed,
                       baseline=args.baseline,
                       evaluation_steps=args.evaluation_steps,
                       optimizer=replace(OptimizerConfig(), name=args.optimizer, learning_rate=args.learning_rate))
    names = args.systems.split(",")
    previous = json.loads(args.out.read_text()) if args.out.exists() else {"systems": []}
    if args.peer_only:
        records = [r for r in previous["systems"] if r["system"] in names]
        if len(records) != len(names):
            raise SystemExit(f"--peer-only: {args.out} lacks esml's run of some of {args.systems}")
    else:
        records = [run_one(name, config) for name in names]
    for record in records if args.peer else []:
        record[args.peer] = run_peer_beside(record, args.peer)
    report = {"benchmark": "vmc_energies", "date": date.today().isoformat(), "command": "python " + " ".join(sys.argv),
              "machine": f"{platform.machine()}, {os.cpu_count()} cores, torch {torch.__version__} "
                         f"({torch.get_num_threads()} threads)", "config": asdict(config), "systems": records}
    args.out.parent.mkdir(parents=True, exist_ok=True)
    kept = [r for r in previous.get("systems", []) if r["system"] not in names]
    report["systems"] = kept + records  # one file for all systems; rerunning one replaces its entry
    args.out.write_text(json.dumps(report, indent=1) + "\n")
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
