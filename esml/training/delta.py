"""Fitting a correction to a quantum baseline (see :mod:`esml.potentials.delta`)."""

from __future__ import annotations

from collections.abc import Sequence

from ase import Atoms
from ase.calculators.singlepoint import SinglePointCalculator

from esml.errors import EsmlError
from esml.potentials.delta import DeltaPotential
from esml.qm import parse_method
from esml.qm.cache import LabelCache
from esml.qm.label import label_structures
from esml.training.gp import DescriptorCache, GPConfig, fit_gaussian_process


def resolve_baseline(oracle: str, baseline: str | None) -> str | None:
    """``auto``: GFN2-xTB under any oracle that is not itself an xTB method; ``none``: no baseline."""
    if baseline in (None, "none"):
        return None
    if baseline == "auto":
        return None if parse_method(oracle).engine == "tblite" else "gfn2-xtb"
    parse_method(baseline)  # an unknown method string is refused here, before any oracle call
    return baseline


def residual_frames(frames: Sequence[Atoms], baseline: str, labels: LabelCache, charge: int | None = None,
                    multiplicity: int | None = None, *, workers: int = 1, scheduler: str | None = None) -> list[Atoms]:
    """Copies of labeled ``frames`` whose energy and forces are (label − baseline).

    The baseline's results go through the label cache: the loop refits on all its frames every
    round, and a baseline more costly than xTB must not be recomputed each time. New frames are
    computed by ``workers`` processes or on the Dask ``scheduler``, as the oracle's are."""
    computed, report = label_structures(list(frames), parse_method(baseline), labels, charge=charge,
                                        multiplicity=multiplicity, workers=workers, scheduler=scheduler)
    if report.failures:
        failure = report.failures[0]
        raise EsmlError(f"the baseline {baseline} failed on frame {failure.index} ({failure.reason}); "
                        "choose another with --baseline, or none")
    residuals = []
    for atoms, base in zip(frames, computed):
        copy = Atoms(atoms.numbers, atoms.positions, cell=atoms.cell, pbc=atoms.pbc, info=dict(atoms.info))
        copy.calc = SinglePointCalculator(copy, energy=atoms.get_potential_energy() - base.get_potential_energy(),
                                          forces=atoms.get_forces() - base.get_forces())
        residuals.append(copy)
    return residuals


def fit_gp_on_baseline(frames: Sequence[Atoms], baseline: str | None, labels: LabelCache, config: GPConfig = GPConfig(),
                       descriptors: DescriptorCache | None = None, charge: int | None = None,
                       multiplicity: int | None = None, *, workers: int = 1, scheduler: str | None = None):
    """The GP of ``frames`` itself without a baseline, or the GP of its residuals on top of one
    (the baseline's own results come from, and go to, the label cache ``labels``)."""
    if baseline is None:
        return fit_gaussian_process(frames, config, descriptors)
    residuals = residual_frames(frames, baseline, labels, charge, multiplicity, workers=workers, scheduler=scheduler)
    return DeltaPotential(baseline, fit_gaussian_process(residuals, config, descriptors), charge, multiplicity)
