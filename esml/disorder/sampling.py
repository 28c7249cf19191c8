"""Many random realisations of the Anderson model, computed in parallel and kept in a cache folder
that a later run continues: one file per (L, W) holding every finished realisation's numbers (its
spacing ratios, or its bar's Lyapunov exponents), flattened."""

from __future__ import annotations

import multiprocessing
import time
from collections.abc import Callable, Iterable
from concurrent.futures import FIRST_COMPLETED, ProcessPoolExecutor, wait
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from esml.atomic import write_atomically

SAVE_EVERY = 20.0  # seconds between saves of a point's file while its realisations come in


@dataclass(frozen=True)
class Point:
    """``realisations`` random realisations of size L (a cube's edge, or a bar's width) at disorder W."""

    size: int
    disorder: float
    realisations: int

    @property
    def name(self) -> str:
        return f"L{self.size}_W{self.disorder:.3f}"


@dataclass
class PointData:
    """A point's finished realisations: their indices and numbers, one flat array each."""

    indices: list[int]
    values: list[np.ndarray]


def load_point(cache: Path, point: Point) -> PointData:
    path = cache / f"{point.name}.npz"
    if not path.exists():
        return PointData([], [])
    with np.load(path) as stored:
        pieces = np.split(stored["values"].astype(float), np.cumsum(stored["counts"])[:-1])
        return PointData([int(i) for i in stored["indices"]], list(pieces))


def save_point(cache: Path, point: Point, data: PointData) -> None:
    arrays = {"indices": np.asarray(data.indices, dtype=np.int64),
              "counts": np.asarray([len(v) for v in data.values], dtype=np.int64),
              "values": np.concatenate(data.values).astype(np.float32) if data.values else np.zeros(0, np.float32)}

    def write(temporary: Path) -> None:
        with open(temporary, "wb") as stream:
            np.savez_compressed(stream, **arrays)

    write_atomically(cache / f"{point.name}.npz", write)


def sample(points: Iterable[Point], cache: Path, compute: Callable[[int, float, int], np.ndarray], workers: int = 1,
           on_progress: Callable[[int, int], None] | None = None) -> dict[Point, PointData]:
    """Every point's realisations, ``compute(L, W, index)`` for those the cache lacks, in ``workers``
    processes (``compute`` must be picklable: a module-level function or a partial of one). An
    interrupted run keeps what it finished (saved at least every SAVE_EVERY seconds). The cache
    folder must be one per kind of realisation (what ``compute`` is and its settings)."""
    cache.mkdir(parents=True, exist_ok=True)
    points = list(points)
    data = {point: load_point(cache, point) for point in points}
    todo = [(point, index) for point in points for index in sorted(set(range(point.realisations)) - set(data[point].indices))]
    # the largest lattices first, so the workers finish together
    todo.sort(key=lambda task: -task[0].size)
    total = sum(p.realisations for p in points)
    done = total - len(todo)
    if on_progress:
        on_progress(done, total)
    dirty, last_save = set(), time.monotonic()
    context = multiprocessing.get_context("fork")
    with ProcessPoolExecutor(max(1, workers), mp_context=context, initializer=_one_thread) as pool:
        pending = {pool.submit(compute, p.size, p.disorder, i): (p, i) for p, i in todo}
        try:
            while pending:
                finished, _ = wait(pending, return_when=FIRST_COMPLETED)
                for future in finished:
                    point, index = pending.pop(future)
                    data[point].indices.append(index)
                    data[point].values.append(np.ravel(future.result()))
                    dirty.add(point)
                    done += 1
                if on_progress:
                    on_progress(done, total)
                if time.monotonic() - last_save > SAVE_EVERY:
                    _save(cache, data, dirty)
                    last_save = time.monotonic()
        finally:
            for future in pending:
                future.cancel()
            _save(cache, data, dirty)
    # a cache may hold more realisations than asked for (kept for the larger study that made them);
    # a study uses 0…n-1 only, in index order, so its result depends neither on what else the cache
    # holds nor on which worker finished first
    return {point: _first(data[point], point.realisations) for point in points}


def _first(data: PointData, count: int) -> PointData:
    """Realisations 0…count-1 in the order of their index, whatever order they were computed in."""
    kept = sorted(((i, v) for i, v in zip(data.indices, data.values) if i < count), key=lambda pair: pair[0])
    return PointData([index for index, _ in kept], [values for _, values in kept])


def _save(cache: Path, data: dict[Point, PointData], dirty: set) -> None:
    for point in list(dirty):
        save_point(cache, point, data[point])
    dirty.clear()


def _one_thread() -> None:
    # two processes on two cores: BLAS threads in each would only fight over them
    from threadpoolctl import threadpool_limits

    threadpool_limits(1)
