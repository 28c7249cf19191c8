"""Fitting a correction to a quantum baseline (see :mod:`esml.potentials.delta`)."""

from __future__ import annotations

from collections.abc import Sequence

from ase import Atoms
from ase.calculators.singlepoint import SinglePointCalculator

from esml.potentials.delta import DeltaPotential
from esml.qm import parse_method
from esml.qm.engine import compute
from esml.training.gp import DescriptorCache, GPConfig, fit_gaussian_process


def resolve_baseline(oracle: str, baseline: str | None) -> str | None:
    """``auto``: GFN2-xTB under any oracle that is not itself an xTB method; ``none``: no baseline."""
    if baseline in (None, "none"):
        return None
    if baseline == "auto":
        return None if parse_method(oracle).engine == "tblite" else "gfn2-xtb"
    parse_method(baseline)  # an unknown method string is refused here, before any oracle call
    return baseline


def residual_frames(frames: Sequence[Atoms], baseline: str, charge: int | None = None,
                    multiplicity: int | None = None) -> list[Atoms]:
    """Copies of labeled ``frames`` whose energy and forces are (label − baseline)."""
    spec = parse_method(baseline)
    residuals = []
    for atoms in frames:
        result = compute(atoms, spec, charge, multiplicity)
        copy = Atoms(atoms.numbers, atoms.positions, cell=atoms.cell, pbc=atoms.pbc, info=dict(atoms.info))
        copy.calc = SinglePointCalculator(copy, energy=atoms.get_potential_energy() - result["energy"],
                                          forces=atoms.get_forces() - result["forces"])
        residuals.append(copy)
    return residuals


def fit_gp_on_baseline(frames: Sequence[Atoms], baseline: str | None, config: GPConfig = GPConfig(),
                       cache: DescriptorCache | None = None, charge: int | None = None, multiplicity: int | None = None):
    """The GP of ``frames`` itself without a baseline, or the GP of its residuals on top of one."""
    if baseline is None:
        return fit_gaussian_process(frames, config, cache)
    correction = fit_gaussian_process(residual_frames(frames, baseline, charge, multiplicity), config, cache)
    return DeltaPotential(baseline, correction, charge, multiplicity)
