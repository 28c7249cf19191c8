"""Fitting a correction to a quantum baseline (see :mod:`esml.potentials.delta`)."""

from __future__ import annotations

from collections.abc import Sequence

from ase import Atoms
from ase.calculators.singlepoint import SinglePointCalculator

from esml.errors import EsmlError
from esml.methods import MethodSpec, parse_reference
from esml.potentials.delta import DeltaPotential
from esml.qm.cache import LabelCache
from esml.qm.engine import ReferenceCalculator
from esml.qm.label import label_structures
from esml.training.config import GPConfig
from esml.training.gp import DescriptorCache, fit_gaussian_process


def resolve_baseline(oracle: MethodSpec, baseline: str | None) -> MethodSpec | None:
    """``auto``: GFN2-xTB under any oracle that is not itself an xTB method; ``none``: no baseline;
    otherwise the method string, parsed as a reference (an unknown one is refused here, before any
    oracle call)."""
    if baseline in (None, "none"):
        return None
    if baseline == "auto":
        return None if oracle.engine == "tblite" else parse_reference("gfn2-xtb")
    return parse_reference(baseline)


def residual_frames(frames: Sequence[Atoms], baseline: MethodSpec, labels: LabelCache, charge: int | None = None,
                    multiplicity: int | None = None, *, workers: int = 1, scheduler: str | None = None) -> list[Atoms]:
    """Copies of labeled ``frames`` whose energy and forces are (label − baseline).

    The baseline's results go through the label cache: the loop refits on all its frames every
    round, and a baseline more costly than xTB must not be recomputed each time. New frames are
    computed by ``workers`` processes or on the Dask ``scheduler``, as the oracle's are."""
    computed, report = label_structures(list(frames), baseline, labels, charge=charge,
                                        multiplicity=multiplicity, workers=workers, scheduler=scheduler)
    if report.failures:
        failure = report.failures[0]
        raise EsmlError(f"the baseline {baseline.label} failed on frame {failure.index} ({failure.reason}); "
                        "choose another with --baseline, or none")
    residuals = []
    for atoms, base in zip(frames, computed):
        copy = Atoms(atoms.numbers, atoms.positions, cell=atoms.cell, pbc=atoms.pbc, info=dict(atoms.info))
        copy.calc = SinglePointCalculator(copy, energy=atoms.get_potential_energy() - base.get_potential_energy(),
                                          forces=atoms.get_forces() - base.get_forces())
        residuals.append(copy)
    return residuals


def fit_gp_on_baseline(frames: Sequence[Atoms], baseline: MethodSpec | None, labels: LabelCache, config: GPConfig = GPConfig(),
                       descriptors: DescriptorCache | None = None, charge: int | None = None,
                       multiplicity: int | None = None, *, workers: int = 1, scheduler: str | None = None):
    """The GP of ``frames`` itself without a baseline, or the GP of its residuals on top of one
    (the baseline's own results come from, and go to, the label cache ``labels``)."""
    if baseline is None:
        return fit_gaussian_process(frames, config, descriptors)
    residuals = residual_frames(frames, baseline, labels, charge, multiplicity, workers=workers, scheduler=scheduler)
    return DeltaPotential(baseline.label, fit_gaussian_process(residuals, config, descriptors), charge, multiplicity,
                          calculator=ReferenceCalculator(baseline, charge, multiplicity, restart=True))
