"""Statistical error of a correlated Monte Carlo series by blocking (Flyvbjerg & Petersen, J. Chem.
Phys. 91, 461, 1989): average neighbouring pairs until the blocks are independent; the standard
error then stops growing. The largest estimate over the levels that still have at least
``MIN_BLOCKS`` blocks is reported, which errs on the safe side when the plateau is noisy."""

from __future__ import annotations

import numpy as np

MIN_BLOCKS = 16


def blocking_error(series: np.ndarray) -> float:
    """Standard error of the mean of a correlated series."""
    values = np.asarray(series, dtype=float)
    if len(values) < 2:
        return float("nan")
    errors = []
    while len(values) >= MIN_BLOCKS or not errors:
        errors.append(float(np.std(values, ddof=1) / np.sqrt(len(values))))
        halves = len(values) // 2
        if halves < 2:
            break
        values = 0.5 * (values[0:2 * halves:2] + values[1:2 * halves:2])
    return max(errors)
