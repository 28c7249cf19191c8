"""Cost of the GP's force uncertainty, the walkers' hot path in `esml learn`: esml's AEV Jacobian
(per-edge and per-triplet derivatives placed by the chain rule) against forward-mode autograd over
all 3N positions (``torch.func.jacfwd``, what esml did before), side by side in one run.

    python benchmarks/gp_uncertainty_speed.py [--repeats 10] [--out FILE]

Ethanol (9 atoms), aspirin (21) and the 63-atom water box of benchmarks/active_periodic.py, a GP
with 500 inducing environments per structure; median seconds of the Jacobian alone and of one
whole ``uncertainty`` call (energy and force σ), and the largest difference between the two
Jacobians. Writes JSON (default benchmarks/results/gp_uncertainty_speed.json).
"""

from __future__ import annotations

import argparse
import json
import platform
import statistics
import sys
import time
from datetime import date
from pathlib import Path

import ase.io
import torch
from ase.build import molecule

from esml.graph import atoms_to_graph
from esml.potentials.gp import GaussianProcessPotential

sys.path.insert(0, str(Path(__file__).parent))
from active_periodic import water_box  # noqa: E402

DATA = Path(__file__).parent / "data"
N_INDUCING = 500


def jacfwd_jacobian(model: GaussianProcessPotential, graph, species):
    """The reference: forward mode with one tangent per position component."""
    def aev_of(points):
        return model.aev_computer(graph, species, graph.edge_vectors(points))

    jacobian = torch.func.jacfwd(aev_of)(graph.positions.detach())
    return jacobian.reshape(len(species), model.aev_computer.length, -1)


def gp_for(atoms, seed: int = 0) -> GaussianProcessPotential:
    """A GP whose inducing environments are the structure's own, jittered; weights and posterior random
    (the cost does not depend on their values)."""
    generator = torch.Generator().manual_seed(seed)
    model = GaussianProcessPotential(sorted(set(atoms.numbers.tolist())), n_inducing=N_INDUCING, rank=N_INDUCING)
    graph = atoms_to_graph(atoms, model.cutoff, torch.float64)
    species = model.species_of(graph.numbers)
    with torch.no_grad():
        aev = model.aev_computer(graph, species, graph.edge_vectors())
        pick = torch.randint(len(species), (N_INDUCING,), generator=generator)
        model.inducing.copy_(aev[pick] * (1 + 0.05 * torch.randn(N_INDUCING, aev.shape[1], generator=generator, dtype=torch.float64)))
        model.inducing_species.copy_(species[pick])
        model.weights.copy_(torch.randn(N_INDUCING, generator=generator, dtype=torch.float64))
        model.posterior.copy_(torch.randn(N_INDUCING, N_INDUCING, generator=generator, dtype=torch.float64) / N_INDUCING)
    return model


def median_seconds(function, repeats: int) -> float:
    function()  # warm-up
    times = []
    for _ in range(repeats):
        began = time.perf_counter()
        function()
        times.append(time.perf_counter() - began)
    return statistics.median(times)


def measure(name: str, atoms, repeats: int) -> dict:
    model = gp_for(atoms)
    graph = atoms_to_graph(atoms, model.cutoff, torch.float64)
    species = model.species_of(graph.numbers)
    ours = model.aev_computer.jacobian(graph, species, graph.edge_vectors())[1]
    reference = jacfwd_jacobian(model, graph, species)
    esml_jacobian = median_seconds(lambda: model.aev_computer.jacobian(graph, species, graph.edge_vectors()), repeats)
    jacfwd = median_seconds(lambda: jacfwd_jacobian(model, graph, species), repeats)
    uncertainty = median_seconds(lambda: model.uncertainty(graph, None), repeats)
    return {"system": name, "atoms": len(atoms), "edges": int(graph.edges.shape[1]),
            "jacobian_esml_s": esml_jacobian, "jacobian_jacfwd_s": jacfwd, "speedup": jacfwd / esml_jacobian,
            "uncertainty_call_s": uncertainty, "max_jacobian_difference": float((ours - reference).abs().max())}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=10)
    parser.add_argument("--out", type=Path, default=Path(__file__).parent / "results" / "gp_uncertainty_speed.json")
    args = parser.parse_args()
    systems = {"ethanol": molecule("CH3CH2OH"), "aspirin": ase.io.read(DATA / "aspirin-start.xyz"),
               "water box (63 atoms)": water_box(21)}
    rows = [measure(name, atoms, args.repeats) for name, atoms in systems.items()]
    for row in rows:
        print(f"{row['system']:>22}: Jacobian {row['jacobian_esml_s'] * 1e3:7.1f} ms (jacfwd {row['jacobian_jacfwd_s'] * 1e3:7.1f} ms, "
              f"{row['speedup']:.1f}x), whole uncertainty call {row['uncertainty_call_s'] * 1e3:7.1f} ms")
    result = {"benchmark": "gp_uncertainty_speed", "date": date.today().isoformat(), "command": "python " + " ".join(sys.argv),
              "machine": f"{platform.machine()}, {torch.get_num_threads()} torch threads", "n_inducing": N_INDUCING, "rows": rows}
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=1) + "\n")
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
