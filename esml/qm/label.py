"""Labeling at scale: every frame through the reference engine, cached, in parallel.

Frames run one per task on a local process pool (``workers``) or on a Dask distributed
cluster (``scheduler``, e.g. ``tcp://host:8786``; dask-jobqueue turns that into SLURM/PBS).
Results are written to the cache the moment they arrive, in this process only, so an
interrupted run resumes where it stopped. A frame that fails is recorded with its reason
and the others carry on.
"""

from __future__ import annotations

import json
import multiprocessing
import os
import time
from collections import Counter
from collections.abc import Callable, Iterator
from concurrent.futures import ProcessPoolExecutor, as_completed
from dataclasses import dataclass, field, replace
from pathlib import Path

from ase import Atoms
from ase.calculators.singlepoint import SinglePointCalculator

from esml.atomic import write_text
from esml.errors import EsmlError
from esml.methods import MethodSpec
from esml.qm.cache import LabelCache, cache_key
from esml.qm.engine import compute, validate_method
from esml.structures import charge_and_multiplicity, describe


@dataclass(frozen=True)
class LabelTask:
    """One frame to compute; picklable, so it travels to pool and Dask workers."""

    index: int
    atoms: Atoms
    spec: MethodSpec
    charge: int
    multiplicity: int
    forces: bool
    key: str
    threads: int | None = None


@dataclass(frozen=True)
class Failure:
    index: int
    structure: str
    reason: str


@dataclass(frozen=True)
class Outcome:
    """What a worker sends back: a result dict (ASE units) or a failure, and the seconds it took."""

    task: LabelTask
    result: dict | None
    failure: Failure | None
    seconds: float


@dataclass
class LabelReport:
    n_frames: int
    labeled: int = 0  # frames written out; computed + cached, plus repeats of a computed geometry
    computed: int = 0  # distinct geometries computed in this run
    cached: int = 0  # frames served from the cache
    failures: list[Failure] = field(default_factory=list)
    seconds: float = 0.0


def run_task(task: LabelTask) -> Outcome:
    """Compute one frame; engine errors become a :class:`Failure` instead of ending the run."""
    name = describe(task.atoms, task.index)
    start = time.perf_counter()
    try:
        result = compute(task.atoms, task.spec, task.charge, task.multiplicity, task.forces, name, task.threads)
        return Outcome(task, result, None, time.perf_counter() - start)
    except EsmlError as error:
        reason = str(error)
    except Exception as error:  # an engine's own error: report it, keep the other frames going
        reason = f"{name}: {type(error).__name__}: {error}"
    return Outcome(task, None, Failure(task.index, name, reason), time.perf_counter() - start)


def make_tasks(
    frames: list[Atoms], spec: MethodSpec, charge: int | None, multiplicity: int | None, forces: bool
) -> list[LabelTask]:
    tasks = []
    for index, atoms in enumerate(frames):
        frame_charge, frame_multiplicity = charge_and_multiplicity(atoms, charge, multiplicity)
        key = cache_key(atoms, spec, frame_charge, frame_multiplicity, forces)
        tasks.append(LabelTask(index, atoms, spec, frame_charge, frame_multiplicity, forces, key))
    return tasks


def label_structures(
    frames: list[Atoms],
    spec: MethodSpec,
    cache: LabelCache,
    *,
    charge: int | None = None,
    multiplicity: int | None = None,
    forces: bool = True,
    workers: int = 1,
    threads: int | None = None,
    scheduler: str | None = None,
    on_progress: Callable[[int], None] | None = None,
) -> tuple[list[Atoms], LabelReport]:
    """Label ``frames``; returns the labeled frames (input order, failures left out) and a report.

    ``threads`` per worker (default: the cores split among the workers; one on a Dask cluster);
    on a busy machine one thread per worker avoids OpenMP threads waiting on each other.
    ``on_progress(n)`` is called after each frame, cached or computed, with how many more are done.
    """
    start = time.perf_counter()
    report = LabelReport(n_frames=len(frames))
    tasks = make_tasks(frames, spec, charge, multiplicity, forces)
    results = cache.get_many([task.key for task in tasks])
    copies = Counter(task.key for task in tasks)  # a geometry repeated in the input is computed once
    pending = list({task.key: task for task in tasks if task.key not in results}.values())
    report.cached = sum(copies[key] for key in results)
    if pending:  # checked only now, so a run served from the cache never loads an engine
        validate_method(spec, {symbol for task in pending for symbol in task.atoms.get_chemical_symbols()},
                        periodic=any(task.atoms.pbc.any() for task in pending))
    if on_progress and report.cached:
        on_progress(report.cached)
    failed: dict[str, Failure] = {}
    for outcome in execute(pending, workers, scheduler, threads):
        if outcome.failure:
            failed[outcome.task.key] = outcome.failure
        else:
            cache.put(outcome.task.key, spec.label, outcome.result, outcome.seconds)
            results[outcome.task.key] = outcome.result
            report.computed += 1
        if on_progress:
            on_progress(copies[outcome.task.key])
    report.failures = [
        replace(failed[task.key], index=task.index, structure=describe(task.atoms, task.index))
        for task in tasks
        if task.key in failed
    ]
    labeled = [labeled_frame(task, results[task.key]) for task in tasks if task.key in results]
    report.labeled = len(labeled)
    report.seconds = time.perf_counter() - start
    return labeled, report


def execute(tasks: list[LabelTask], workers: int, scheduler: str | None, threads: int | None = None) -> Iterator[Outcome]:
    """Outcomes in the order they finish."""
    if not tasks:
        return iter(())
    if scheduler:
        return execute_on_dask(tasks, scheduler)
    if workers > 1 and len(tasks) > 1:
        return execute_on_pool(tasks, workers, threads)
    if threads:  # PySCF takes it per call; tblite reads OMP_NUM_THREADS when its runtime starts
        _limit_threads(threads)
        tasks = [replace(task, threads=threads) for task in tasks]
    return map(run_task, tasks)


def execute_on_pool(tasks: list[LabelTask], workers: int, threads: int | None = None) -> Iterator[Outcome]:
    threads = threads or max(1, (os.cpu_count() or 1) // workers)
    tasks = [replace(task, threads=threads) for task in tasks]
    # spawn, not fork: forking a process that has loaded OpenMP libraries can deadlock
    context = multiprocessing.get_context("spawn")
    with ProcessPoolExecutor(max_workers=workers, mp_context=context, initializer=_limit_threads, initargs=(threads,)) as pool:
        futures = [pool.submit(run_task, task) for task in tasks]
        try:
            for future in as_completed(futures):
                yield future.result()
        finally:
            for future in futures:
                future.cancel()


def execute_on_dask(tasks: list[LabelTask], scheduler: str) -> Iterator[Outcome]:
    from distributed import Client
    from distributed import as_completed as dask_completed

    try:
        client = Client(scheduler, timeout="20s")
    except OSError as error:
        raise EsmlError(f"cannot reach the Dask scheduler at {scheduler} ({error}); start it or check the address") from None
    # Each Dask worker thread runs one task, so one OpenMP thread per task fills the worker.
    tasks = [replace(task, threads=1) for task in tasks]
    try:
        futures = client.map(run_task, tasks, pure=False)
        try:
            for future in dask_completed(futures):
                yield future.result()
        finally:
            client.cancel(futures)
    finally:
        client.close()


def _limit_threads(threads: int) -> None:
    # Set before PySCF or tblite load their OpenMP runtimes in this worker.
    os.environ["OMP_NUM_THREADS"] = str(threads)


def labeled_frame(task: LabelTask, result: dict) -> Atoms:
    """A copy of the frame carrying its labels as ASE results and its provenance in ``info``."""
    atoms = task.atoms.copy()
    result = dict(result)
    if "scf_cycles" in result:  # how the SCF went, not a property of the structure
        atoms.info["scf_cycles"] = int(result.pop("scf_cycles"))
    atoms.info.update(
        frame=task.index,
        charge=task.charge,
        multiplicity=task.multiplicity,
        esml_method=task.spec.label,
        esml_code=task.spec.code_version(),
    )
    atoms.calc = SinglePointCalculator(atoms, **result)
    return atoms


def write_failures(path: Path, failures: list[Failure]) -> None:
    """One JSON object per line: frame index, structure, reason. A clean run removes an old file."""
    if not failures:
        path.unlink(missing_ok=True)
        return
    write_text(path, "".join(json.dumps({"frame": f.index, "structure": f.structure, "reason": f.reason}) + "\n"
                             for f in failures))
