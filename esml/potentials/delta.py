"""Δ-learning: a cheap quantum baseline plus a learned correction (Ramakrishnan et al., JCTC 2015).

    E(R) = E_baseline(R) + E_correction(R)

The baseline (GFN2-xTB by default) already knows bonds, angles and how a molecule falls apart;
the correction only learns what the oracle adds, a far smoother function (on ethanol under
PBE/def2-SVP, the GP reaches a force MAE of 50 meV/Å with 20 random frames on top of GFN2-xTB
and with 170 without it: BENCHMARKS.md). The baseline's energy and forces come from an ASE
calculator and enter autograd as a leaf whose gradient is the baseline's forces, so MD,
optimisation and vibrations use the sum like any potential. Its uncertainty is the correction's:
the baseline is a fixed function, not a random one.

A model knows no engine: the baseline's calculator is handed in, and a model file (which records
the baseline's method string) gets one from the engine registered under the ``esml.baselines``
entry point (``esml.qm`` registers itself in pyproject.toml).
"""

from __future__ import annotations

from collections.abc import Callable
from importlib.metadata import entry_points

import numpy as np
import torch
from ase import Atoms
from ase.calculators.calculator import Calculator

from esml.errors import EsmlError
from esml.graph import AtomicGraph
from esml.potential import Potential, Prediction

BASELINE_ENGINES = "esml.baselines"  # entry-point group: factory(method, charge, multiplicity) -> ASE calculator


def baseline_calculator(method: str, charge: int | None = None, multiplicity: int | None = None) -> Calculator:
    """The ASE calculator of ``method`` from the registered reference engine."""
    engines = entry_points(group=BASELINE_ENGINES)
    if not engines:
        raise EsmlError(f"no reference engine is registered to compute the baseline {method}; reinstall esml (pip install -e .)")
    return next(iter(engines)).load()(method, charge=charge, multiplicity=multiplicity)


class _BaselineEnergy(torch.autograd.Function):
    """Energies (n_structures,) eV of the baseline; the backward pass returns −forces."""

    @staticmethod
    def forward(ctx, positions: torch.Tensor, potential: DeltaPotential, graph: AtomicGraph) -> torch.Tensor:
        energies, gradient = potential.baseline_results(graph, positions.detach())
        ctx.save_for_backward(gradient, graph.structure)
        return energies

    @staticmethod
    def backward(ctx, grad_energies: torch.Tensor):
        gradient, structure = ctx.saved_tensors
        return gradient * grad_energies[structure].unsqueeze(1), None, None


class DeltaPotential(Potential):
    """``baseline`` is a reference method string ('gfn2-xtb'), ``calculator`` its ASE calculator
    (by default the registered engine's); ``correction`` any potential trained on
    (oracle − baseline) energies and forces."""

    kind = "delta"

    def __init__(self, baseline: str, correction: Potential, charge: int | None = None, multiplicity: int | None = None,
                 calculator: Calculator | None = None):
        super().__init__(correction.species)
        self.baseline = baseline
        self.charge, self.multiplicity = charge, multiplicity
        self.correction = correction
        self.calculator = calculator or baseline_calculator(baseline, charge, multiplicity)
        self.cutoff = correction.cutoff
        self.dtype = correction.dtype

    @property
    def n_members(self) -> int:
        return self.correction.n_members

    def config(self) -> dict:
        return {"baseline": self.baseline, "charge": self.charge, "multiplicity": self.multiplicity,
                "correction": {"kind": self.correction.kind, "config": self.correction.config()}}

    @classmethod
    def from_config(cls, config: dict, build: Callable[[str, dict], Potential]) -> DeltaPotential:
        correction = config["correction"]
        return cls(config["baseline"], build(correction["kind"], correction["config"]), config["charge"], config["multiplicity"])

    def baseline_results(self, graph: AtomicGraph, positions: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """The baseline's energies (n_structures,) and energy gradient (n_atoms, 3), one call per structure."""
        energies = torch.zeros(graph.n_structures, dtype=torch.float64)
        gradient = torch.zeros(positions.shape, dtype=torch.float64)
        for index in range(graph.n_structures):
            mine = graph.structure == index
            cell = graph.cell[index].detach().double().numpy()
            atoms = Atoms(graph.numbers[mine].numpy(), positions[mine].double().numpy(), cell=cell,
                          pbc=np.abs(cell).sum(1) > 0)
            atoms.calc = self.calculator
            energies[index] = atoms.get_potential_energy()
            gradient[mine] = -torch.from_numpy(atoms.get_forces())
        return energies.to(positions.dtype), gradient.to(positions.dtype)

    def forward(self, graph: AtomicGraph, positions: torch.Tensor | None = None, cell: torch.Tensor | None = None) -> torch.Tensor:
        if cell is not None and cell.requires_grad:
            raise EsmlError(f"stress is not available for a model on a {self.baseline} baseline; "
                            "run constant-volume MD, or learn the whole energy with --baseline none")
        positions = graph.positions if positions is None else positions
        baseline = _BaselineEnergy.apply(positions, self, graph)
        return self.correction(graph, positions, cell) + baseline.unsqueeze(0)

    def site_energies(self, graph: AtomicGraph, positions: torch.Tensor | None = None,
                      cell: torch.Tensor | None = None) -> torch.Tensor:
        raise EsmlError(f"a model on a {self.baseline} baseline has no energies per atom (the baseline's "
                        "energy is not split among atoms); attribute a model learned with --baseline none")

    def uncertainty(self, graph: AtomicGraph, prediction: Prediction, forces: bool = True) -> tuple[torch.Tensor, torch.Tensor | None]:
        return self.correction.uncertainty(graph, prediction, forces)
