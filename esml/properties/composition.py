"""Composition-only models of materials properties: Magpie-style element statistics (matminer)
feeding extremely randomised trees (scikit-learn), with stability classification metrics and
leave-cluster-out splits.

A composition model sees no structure, so it answers "is this stoichiometry likely stable?" for
screening; its honest error is the leave-cluster-out one, where whole families of chemistries are
unseen in training (Meredig et al., Mol. Syst. Des. Eng. 2018).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from esml.properties.materials import composition


@dataclass(frozen=True)
class TreeConfig:
    """n_trees: trees in the forest; min_leaf: samples per leaf (smoothness); seed: of the forest."""

    n_trees: int = 500
    min_leaf: int = 1
    seed: int = 0


def composition_features(formulas: list[str]) -> tuple[np.ndarray, list[str]]:
    """(n, 146) features: Magpie element-property statistics, stoichiometry norms, valence-orbital fractions."""
    from matminer.featurizers.base import MultipleFeaturizer
    from matminer.featurizers.composition import ElementProperty, Stoichiometry, ValenceOrbital

    featurizer = MultipleFeaturizer([ElementProperty.from_preset("magpie"), Stoichiometry(), ValenceOrbital()])
    featurizer.set_n_jobs(1)  # matminer's process pool costs more than it saves on a few thousand formulas
    rows = featurizer.featurize_many([composition(f) for f in formulas], pbar=False)
    return np.nan_to_num(np.asarray(rows, dtype=float)), featurizer.feature_labels()


def fit_trees(features: np.ndarray, y: np.ndarray, config: TreeConfig, classify: bool = False):
    from sklearn.ensemble import ExtraTreesClassifier, ExtraTreesRegressor

    model = (ExtraTreesClassifier if classify else ExtraTreesRegressor)(
        n_estimators=config.n_trees, min_samples_leaf=config.min_leaf, random_state=config.seed, n_jobs=-1)
    return model.fit(features, y)


def cluster_folds(features: np.ndarray, n_clusters: int = 5, seed: int = 0) -> np.ndarray:
    """(n,) cluster index per sample: k-means on standardised features, one fold per cluster."""
    from sklearn.cluster import KMeans

    scaled = (features - features.mean(axis=0)) / np.where(features.std(axis=0) > 0, features.std(axis=0), 1.0)
    return KMeans(n_clusters=n_clusters, n_init=10, random_state=seed).fit_predict(scaled)


def random_split(n: int, test_fraction: float = 0.2, seed: int = 0) -> np.ndarray:
    """(n,) True for the test samples."""
    test = np.zeros(n, dtype=bool)
    test[np.random.default_rng(seed).permutation(n)[:round(test_fraction * n)]] = True
    return test


def stability_scores(true_stable: np.ndarray, predicted_stable: np.ndarray) -> dict:
    """Precision, recall, F1 and accuracy of 'stable' calls (positives are the stable compounds)."""
    hits = int((true_stable & predicted_stable).sum())
    precision = hits / max(int(predicted_stable.sum()), 1)
    recall = hits / max(int(true_stable.sum()), 1)
    f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    return {"precision": precision, "recall": recall, "f1": f1,
            "accuracy": float((true_stable == predicted_stable).mean()), "n_stable": int(true_stable.sum())}
