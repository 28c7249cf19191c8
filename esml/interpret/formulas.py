"""One formula search over a table, by whichever method is asked for: SISSO (sure independence
screening and sparsifying operator, :mod:`esml.interpret.sisso`) or genetic programming (gplearn,
:mod:`esml.interpret.genetic`). ``esml sisso`` is this module behind a command line."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from esml.interpret.feature_space import DEFAULT_OPERATORS, FeatureSpaceError

#: Features kept by each screening when none is given: for regression by descriptor dimension, and for classification.
DEFAULT_SIS = {1: 1000, 2: 1000, 3: 200, 4: 40}
DEFAULT_SIS_CLASSIFY = 50


@dataclass(frozen=True)
class Samples:
    """primary (n, p) feature values named ``names`` (with ``units``, None: dimensionless); ``y`` (n,)
    the target's values, or class indices into ``classes`` for a classification."""

    primary: np.ndarray
    y: np.ndarray
    names: list[str]
    target: str
    units: list[str] | None = None
    classes: list[str] | None = None


@dataclass(frozen=True)
class FormulaSearch:
    """How to search; ``esml sisso`` reads its defaults from here."""

    method: str = "sisso"  # a key of METHODS
    dimension: int = 2  # largest descriptor dimension (SISSO)
    rung: int = 2  # operator levels of the feature space (SISSO)
    n_sis: int | None = None  # features kept by each screening; None: DEFAULT_SIS
    operators: tuple[str, ...] = tuple(DEFAULT_OPERATORS)
    classify: bool = False  # the target holds classes: minimise domain overlap (SISSO only)
    cv_repeats: int = 10  # repeats of leave-10%-out cross-validation (0: none)
    seed: int = 0

    def checked(self) -> FormulaSearch:
        if self.method not in METHODS:
            raise FeatureSpaceError(f"unknown method {self.method!r}; use {' or '.join(METHODS)}")
        if self.classify and self.method != "sisso":
            raise FeatureSpaceError("--classify works with --method sisso only")
        return self


def find_formula(search: FormulaSearch, samples: Samples, log: Callable[[str], None] = lambda line: None,
                 plot: Path | None = None) -> dict:
    """The best formula with its training and cross-validated error (and, for SISSO, every
    dimension's descriptor), as a JSON-ready dict."""
    search = search.checked()
    return {**METHODS[search.method](search, samples, log, plot), "target": samples.target,
            "primary_features": samples.names, "method": search.method}


def _sisso(search: FormulaSearch, samples: Samples, log: Callable[[str], None], plot: Path | None) -> dict:
    from esml.interpret.feature_space import build_feature_space
    from esml.interpret.sisso import SissoConfig, cross_validate, descriptor_values, fit_sisso

    n_sis = search.n_sis or (DEFAULT_SIS_CLASSIFY if search.classify else DEFAULT_SIS[search.dimension])
    config = SissoConfig(dimension=search.dimension, n_sis=n_sis, rung=search.rung, operators=search.operators,
                         classify=search.classify, cv_repeats=search.cv_repeats, seed=search.seed)
    space = build_feature_space(samples.primary, samples.names, samples.units, config.rung, config.operators)
    log(f"feature space: {len(space):,} features (rung {config.rung})")
    descriptors = fit_sisso(space, samples.y, config, log=log)
    cv = cross_validate(space, samples.y, samples.primary, config) if config.cv_repeats else [None] * len(descriptors)
    rows = [_descriptor_json(d, e, config.classify) for d, e in zip(descriptors, cv)]
    if plot and len(descriptors[-1].features) <= 2:
        from esml.interpret.plots import plot_descriptor

        points = descriptor_values(space, descriptors[-1], samples.primary)
        plot_descriptor(points, samples.y, descriptors[-1].formulas, plot, config.classify, samples.classes, samples.target)
    return {**rows[-1], "descriptors": rows, "n_features": len(space), "n_samples": len(samples.y),
            "classes": samples.classes, "n_sis": config.n_sis, "rung": config.rung}


def _descriptor_json(descriptor, cv_error, classify: bool) -> dict:
    common = {"dimension": len(descriptor.features), "formula": descriptor.formula,
              "features": list(descriptor.formulas)}
    if classify:
        return {**common, "overlap_train": int(descriptor.score), "misclassified_cv": cv_error}
    return {**common, "coefficients": descriptor.coefficients.tolist(), "intercept": descriptor.intercept,
            "rmse_train": descriptor.score, "rmse_cv": cv_error}


def _genetic(search: FormulaSearch, samples: Samples, log: Callable[[str], None], plot: Path | None) -> dict:
    from esml.interpret.genetic import GeneticConfig, cross_validate_genetic, fit_genetic, rmse

    config = GeneticConfig(cv_repeats=search.cv_repeats, seed=search.seed)
    model = fit_genetic(samples.primary, samples.y, samples.names, config)
    cv = cross_validate_genetic(samples.primary, samples.y, samples.names, config) if search.cv_repeats else None
    return {"formula": str(model._program), "coefficients": [], "rmse_train": rmse(model, samples.primary, samples.y),
            "rmse_cv": cv}


#: Formula-search methods by the name ``--method`` takes.
METHODS: dict[str, Callable[[FormulaSearch, Samples, Callable[[str], None], Path | None], dict]] = {
    "sisso": _sisso, "gplearn": _genetic}
