"""The repeated leave-a-fraction-out draws that SISSO and gplearn are cross-validated on, the same for both."""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np


def holdouts(n: int, fraction: float, repeats: int, seed: int) -> Iterator[tuple[np.ndarray, np.ndarray]]:
    """``repeats`` (kept, held) index pairs, each holding out round(fraction * n) samples (at least one)."""
    generator = np.random.default_rng(seed)
    n_out = max(1, round(fraction * n))
    for _ in range(repeats):
        held = generator.permutation(n)[:n_out]
        yield np.setdiff1d(np.arange(n), held), held
