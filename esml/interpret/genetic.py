"""Genetic-programming symbolic regression through gplearn, scored like SISSO.

gplearn evolves expression trees; unlike SISSO it searches formulas of any shape (constants
included) but gives no guarantee of finding the best one of a given size. It sits beside SISSO
so a user can compare the two on the same data and the same cross-validation draws.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from esml.interpret.holdout import holdouts

FUNCTIONS = ("add", "sub", "mul", "div", "sqrt", "log", "abs", "neg", "inv")


@dataclass(frozen=True)
class GeneticConfig:
    """population/generations: gplearn's search size; parsimony: penalty per node of the tree;
    cv_fraction/cv_repeats/seed: the same repeated leave-out draws as SissoConfig."""

    population: int = 2000
    generations: int = 40
    parsimony: float = 0.001
    cv_fraction: float = 0.1
    cv_repeats: int = 10
    seed: int = 0


def _regressor(names: list[str], config: GeneticConfig, seed: int):
    from gplearn.genetic import SymbolicRegressor

    return SymbolicRegressor(population_size=config.population, generations=config.generations,
                             function_set=FUNCTIONS, parsimony_coefficient=config.parsimony, metric="rmse",
                             feature_names=names, const_range=(-1.0, 1.0), random_state=seed, n_jobs=1)


def fit_genetic(primary: np.ndarray, y: np.ndarray, names: list[str], config: GeneticConfig):
    """The evolved program (a fitted gplearn SymbolicRegressor); ``str(model._program)`` is its formula."""
    return _regressor(names, config, config.seed).fit(primary, y)


def rmse(model, primary: np.ndarray, y: np.ndarray) -> float:
    return float(np.sqrt(np.mean((model.predict(primary) - y) ** 2)))


def cross_validate_genetic(primary: np.ndarray, y: np.ndarray, names: list[str], config: GeneticConfig) -> float:
    """RMSE over all held-out predictions of repeated leave-``cv_fraction``-out refits."""
    errors = []
    for repeat, (kept, held) in enumerate(holdouts(len(y), config.cv_fraction, config.cv_repeats, config.seed)):
        model = _regressor(names, config, config.seed + repeat).fit(primary[kept], y[kept])
        errors.extend(model.predict(primary[held]) - y[held])
    return float(np.sqrt(np.mean(np.square(errors))))
