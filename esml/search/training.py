"""Training a search policy by evolution strategies (Salimans et al., 2017): perturb the policy's
weights, run searches with each perturbation, and move the weights towards those that reached the
lowest known minimum in fewer evaluations. A search's return comes only at its end, which is what
evolution strategies handle well and step-wise policy gradients do not.

Training runs on Lennard-Jones clusters of sizes other than those a policy is tested on; each
size's target is the lowest minimum that reference basin-hopping searches find for it.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from multiprocessing import get_context

import numpy as np
from ase import Atoms
from scipy.stats import rankdata

from esml.search.config import PolicyTraining, SearchConfig
from esml.search.pair import LennardJones
from esml.search.policy import BasinHopping, LearnedPolicy
from esml.search.run import search


def random_cluster(size: int, seed: int, density: float = 0.75) -> Atoms:
    """``size`` atoms at random in a cube holding them at about ``density`` atoms per σ³: the usual
    start of a Lennard-Jones search (σ = 1 Å)."""
    rng = np.random.default_rng(seed)
    return Atoms(f"Ar{size}", positions=rng.uniform(0, (size / density) ** (1 / 3), (size, 3)))


def _run(task: tuple) -> int | float | None:
    """One training search: its evaluations to ``target`` (None if missed), or its best energy where no target is given."""
    policy, size, seed, target, cap = task
    config = SearchConfig(evaluations=cap, target=target, seed=seed)
    result = search(random_cluster(size, seed), LennardJones(), policy, config)
    return result.evaluations_to_target if target is not None else result.best_energy


def _map(tasks: list[tuple], workers: int) -> list:
    if workers == 1:
        return [_run(task) for task in tasks]
    with get_context("fork").Pool(workers) as pool:
        return pool.map(_run, tasks)


def reference_targets(training: PolicyTraining, workers: int = 1, searches: int = 4) -> dict[int, float]:
    """Each size's lowest minimum over ``searches`` basin-hopping runs (eV, ε = 1)."""
    tasks = [(BasinHopping(), size, 10_000 + k, None, training.reference_evaluations)
             for size in training.sizes for k in range(searches)]
    energies = np.array(_map(tasks, workers)).reshape(len(training.sizes), searches)
    return {size: float(row.min()) for size, row in zip(training.sizes, energies)}


def score(found: list[int | None], cap: int) -> float:
    """Mean log of the evaluations to the target (a search that missed counts as twice the cap): lower is better."""
    return float(np.mean([math.log(n if n is not None else 2 * cap) for n in found]))


def train_policy(training: PolicyTraining, targets: dict[int, float], workers: int = 1,
                 progress: Callable[[int, float, LearnedPolicy], None] | None = None) -> LearnedPolicy:
    """A policy trained from :meth:`LearnedPolicy.prior` by antithetic evolution strategies with rank-shaped fitness."""
    training = training.checked()
    rng = np.random.default_rng(training.seed)
    weights = LearnedPolicy.prior().vector
    for generation in range(training.generations):
        noise = rng.normal(size=(training.pairs, len(weights)))
        candidates = [weights + sign * training.noise * e for e in noise for sign in (1, -1)]
        seeds = rng.integers(1 << 30, size=training.episodes)
        tasks = [(LearnedPolicy.from_vector(c), size, int(s), targets[size], training.evaluations)
                 for c in candidates for size in training.sizes for s in seeds]
        found = _map(tasks, workers)
        per_candidate = len(training.sizes) * training.episodes
        scores = np.array([score(found[k * per_candidate:(k + 1) * per_candidate], training.evaluations)
                           for k in range(len(candidates))])
        ranks = rankdata(scores) - 1  # 0 = best; ties share a rank, so two searches that both missed pull neither way
        shaped = 0.5 - ranks / (len(scores) - 1)  # +0.5 for the best, -0.5 for the worst
        step = (shaped[0::2] - shaped[1::2]) @ noise
        weights = weights + training.learning_rate * step / (training.pairs * training.noise)
        if progress:
            progress(generation, float(scores.mean()), LearnedPolicy.from_vector(weights))
    return LearnedPolicy.from_vector(weights, {"sizes": [f"LJ{n}" for n in training.sizes],
                                               "targets": {f"LJ{n}": targets[n] for n in training.sizes},
                                               "method": "evolution strategies", "generations": training.generations,
                                               "pairs": training.pairs, "episodes": training.episodes,
                                               "evaluations": training.evaluations, "seed": training.seed})
