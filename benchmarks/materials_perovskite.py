"""Perovskite-oxide stability from composition alone: random and leave-cluster-out splits.

    python benchmarks/materials_perovskite.py [--trees 500] [--clusters 5]

1,924 ABO3-type oxides with DFT energy above hull and formation energy (Li, Jacobs, Morgan,
Comput. Mater. Sci. 150, 454, 2018; benchmarks/data/perovskite_oxides.csv). Magpie + stoichiometry
+ valence-orbital features (matminer) and extremely randomised trees (scikit-learn):
regression MAE of E_hull and E_form, and F1 of "stable" calls at 0 and 0.1 eV/atom above hull, from
a classifier and from the thresholded regressor, beside the majority-class/mean baselines; the
permutation importance of the features for the stability classifier. The
splits (random 80/20; k-means clusters, each left out in turn) are written next to the results.
Writes benchmarks/results/materials_perovskite.json, its splits, a parity plot and an importance plot.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import time
from datetime import date
from pathlib import Path

import numpy as np
import pandas as pd

from esml.interpret.importance import feature_importance, plot_feature_importance
from esml.properties.composition import TreeConfig, cluster_folds, composition_features, fit_trees, random_split, stability_scores

DATA = Path(__file__).parent / "data" / "perovskite_oxides.csv"
RESULTS = Path("benchmarks/results")
THRESHOLDS = (0.0, 0.1)  # eV/atom above hull counted as stable


def evaluate(features, e_hull, e_form, train, test, config) -> tuple[dict, dict]:
    """Every model trained on ``train`` and scored on ``test``: the scores, and the predictions
    (E_hull and stable calls per threshold) with the models that made them, for pooling."""
    out = {"n_train": int(train.sum()), "n_test": int(test.sum())}
    hull_model = fit_trees(features[train], e_hull[train], config)
    predicted_hull = hull_model.predict(features[test])
    form_model = fit_trees(features[train], e_form[train], config)
    out["mae_e_hull"] = float(np.abs(predicted_hull - e_hull[test]).mean())
    out["mae_e_form"] = float(np.abs(form_model.predict(features[test]) - e_form[test]).mean())
    out["baseline_mae_e_hull"] = float(np.abs(e_hull[train].mean() - e_hull[test]).mean())
    calls = {"e_hull": predicted_hull, "models": {"e_hull": hull_model}}
    for threshold in THRESHOLDS:
        stable = e_hull <= threshold + 1e-9
        classifier = fit_trees(features[train], stable[train], config, classify=True)
        key = f"{threshold:g}"
        calls[key] = classifier.predict(features[test])
        calls["models"][key] = classifier
        out[f"classifier_at_{key}"] = stability_scores(stable[test], calls[key])
        out[f"regressor_at_{key}"] = stability_scores(stable[test], predicted_hull <= threshold + 1e-9)
        majority = stable[train].mean() >= 0.5
        out[f"majority_at_{key}"] = stability_scores(stable[test], np.full(int(test.sum()), majority))
    return out, calls


def leave_cluster_out(features, e_hull, e_form, clusters, config) -> dict:
    """Each cluster predicted by models trained on the others; scores pooled over all clusters."""
    predicted = np.empty(len(e_hull))
    stable_calls = {f"{t:g}": np.empty(len(e_hull), dtype=bool) for t in THRESHOLDS}
    per_cluster = []
    for cluster in np.unique(clusters):
        test = clusters == cluster
        fold, calls = evaluate(features, e_hull, e_form, ~test, test, config)
        predicted[test] = calls["e_hull"]
        for key in stable_calls:
            stable_calls[key][test] = calls[key]
        per_cluster.append({"cluster": int(cluster), **fold})
        print(f"cluster {cluster}: n_test {fold['n_test']}, MAE {fold['mae_e_hull']:.4f} eV/atom, "
              f"F1@0.1 {fold['classifier_at_0.1']['f1']:.3f}", flush=True)
    pooled = {"mae_e_hull": float(np.abs(predicted - e_hull).mean())}
    for key, calls in stable_calls.items():
        stable = e_hull <= float(key) + 1e-9
        pooled[f"classifier_at_{key}"] = stability_scores(stable, calls)
        pooled[f"regressor_at_{key}"] = stability_scores(stable, predicted <= float(key) + 1e-9)
    return {"pooled": pooled, "clusters": per_cluster}


def parity_plot(truth, predicted, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    figure, axis = plt.subplots(figsize=(4.8, 4.6))
    axis.scatter(truth, predicted, s=8, alpha=0.6)
    top = float(max(truth.max(), predicted.max()))
    axis.plot([0, top], [0, top], "k-", lw=0.8)
    for value in (0.1,):
        axis.axvline(value, color="grey", ls=":")
        axis.axhline(value, color="grey", ls=":")
    axis.set_xlabel("DFT E above hull (eV/atom)")
    axis.set_ylabel("predicted (eV/atom)")
    axis.set_title("perovskite oxides, random 20% test")
    figure.tight_layout()
    figure.savefig(path, dpi=150)
    plt.close(figure)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--trees", type=int, default=500)
    parser.add_argument("--clusters", type=int, default=5)
    args = parser.parse_args()
    table = pd.read_csv(DATA)
    e_hull = table["ENERGY_ABOVE_HULL"].to_numpy(float) / 1000.0  # meV/atom -> eV/atom
    e_form = table["FORMATION_ENERGY"].to_numpy(float)
    start = time.perf_counter()
    features, names = composition_features(table["COMPOSITION"].tolist())
    featurize_seconds = time.perf_counter() - start
    config = TreeConfig(n_trees=args.trees)
    test = random_split(len(table))
    clusters = cluster_folds(features, args.clusters)
    start = time.perf_counter()
    random, calls = evaluate(features, e_hull, e_form, ~test, test, config)
    print(f"random split: MAE {random['mae_e_hull']:.4f} eV/atom, F1@0.1 {random['classifier_at_0.1']['f1']:.3f}",
          flush=True)
    RESULTS.mkdir(exist_ok=True)
    parity_plot(e_hull[test], calls["e_hull"], RESULTS / "materials_perovskite_parity.png")
    importance = feature_importance(calls["models"]["0.1"], features[test], e_hull[test] <= 0.1 + 1e-9, names)
    plot_feature_importance(importance, RESULTS / "materials_perovskite_importance.png", score="accuracy")
    loco = leave_cluster_out(features, e_hull, e_form, clusters, config)
    report = {"benchmark": "materials_perovskite", "date": date.today().isoformat(),
              "machine": f"{platform.machine()}, {os.cpu_count()} cores", "command": "python " + " ".join(sys.argv),
              "n_compounds": len(table), "n_features": len(names), "featurize_seconds": featurize_seconds,
              "model": f"extra trees, {args.trees} trees", "fit_and_score_seconds": time.perf_counter() - start,
              "random_split": random, "leave_cluster_out": loco,
              "feature_importance_stable_at_0.1": importance[:20]}
    (RESULTS / "materials_perovskite.json").write_text(json.dumps(report, indent=1) + "\n")
    splits = {"composition": table["COMPOSITION"].tolist(), "random_test": test.tolist(),
              "cluster": clusters.tolist()}
    (RESULTS / "materials_perovskite_splits.json").write_text(json.dumps(splits) + "\n")


if __name__ == "__main__":
    main()
