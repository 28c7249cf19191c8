"""Where a learned surface for spectroscopy must be right: geometries around a minimum, displaced
along its normal modes by the spread of the vibrational ground and first excited states.

A fundamental probes the surface within a few zero-point amplitudes of the minimum, and VPT2's
finite differences within a fraction of one, so the samples are drawn there: every mode displaced
at once by q ~ N(0, σ²) in dimensionless normal coordinates (σ = 1 spans |ψ₁|², whose q² averages
3/2), the minimum itself first.
"""

from __future__ import annotations

import numpy as np
from ase import Atoms

from esml.simulate.vibrations import NormalModes
from esml.spectra.vpt2 import normal_lengths


def normal_mode_samples(modes: NormalModes, count: int, spread: float = 1.0, seed: int = 0) -> list[Atoms]:
    """``count`` structures: the minimum, then random displacements along all modes at once."""
    rng = np.random.default_rng(seed)
    along = modes.cartesian * normal_lengths(modes.wavenumbers)  # Å per unit q, a column a mode
    samples = [modes.atoms.copy()]
    for _ in range(count - 1):
        displaced = modes.atoms.copy()
        displaced.positions = modes.atoms.positions + (along @ rng.normal(0, spread, along.shape[1])).reshape(-1, 3)
        samples.append(displaced)
    return samples
