"""Materials stability (pymatgen's hull) and composition models (matminer features, trees)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from esml.properties.composition import TreeConfig, composition_features, fit_trees, random_split, stability_scores
from esml.properties.materials import CompositionError, composition, entry, phase_diagram, rank_by_hull, stability

# Li and O at 0 eV/atom; Li2O2 on the hull at -1 eV/atom; Li2O at -0.5 eV/atom lies above the
# line from Li to Li2O2 (which reaches -2/3 eV/atom at one third oxygen) by exactly 1/6 eV/atom.
SYSTEM = [("Li", 0.0), ("O2", 0.0), ("Li2O2", -4.0), ("Li2O", -1.5)]


def test_hull_distances_match_hand_values_and_pymatgen():
    from pymatgen.analysis.phase_diagram import PDEntry, PhaseDiagram

    entries = [entry(f, e) for f, e in SYSTEM]
    ranked = rank_by_hull(entries[:3], [entries[3], entries[2]])
    assert [(k, s.formula) for k, s in ranked] == [(1, "Li2O2"), (0, "Li2O")]
    ranked = [s for _, s in ranked]
    assert ranked[1].e_above_hull == pytest.approx(1 / 6)
    assert ranked[1].formation_energy == pytest.approx(-0.5)
    assert ranked[1].decomposition == pytest.approx({"Li": 1 / 3, "Li2O2": 2 / 3})
    direct = PhaseDiagram([PDEntry(f, e) for f, e in SYSTEM])
    for ours, (f, e) in zip(entries, SYSTEM):
        assert stability(phase_diagram(entries), ours).e_above_hull == pytest.approx(
            direct.get_e_above_hull(PDEntry(f, e)), abs=1e-12)


def test_per_atom_energies_give_the_same_hull():
    per_atom = [entry(f, e / composition(f).num_atoms, per_atom=True) for f, e in SYSTEM]
    assert stability(phase_diagram(per_atom), per_atom[3]).e_above_hull == pytest.approx(1 / 6)


@pytest.mark.parametrize("formula, message", [("Xx2O3", "unknown element"), ("Fe0O0", "has no atoms"),
                                               ("", "empty formula"), ("fe2o3", "unknown element")])
def test_bad_compositions_are_explained(formula, message):
    with pytest.raises(CompositionError, match=message):
        entry(formula, -1.0)


def test_missing_elemental_reference_is_explained():
    with pytest.raises(CompositionError, match="no elemental reference for O"):
        phase_diagram([entry("Li", 0.0), entry("Li2O", -1.5)])


def test_hull_command_ranks_a_csv(tmp_path):
    path = tmp_path / "energies.csv"
    path.write_text("formula,energy\n" + "\n".join(f"{f},{e}" for f, e in SYSTEM) + "\nLiO3,-1.0\n")
    esml = str(Path(sys.executable).with_name("esml"))
    result = subprocess.run([esml, "materials", "hull", str(path), "--json", "out.json"], capture_output=True,
                            text=True, cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    rows = json.loads((tmp_path / "out.json").read_text())
    assert [r["formula"] for r in rows][-2:] == ["Li2O", "LiO3"]
    assert rows[-2]["e_above_hull_eV_per_atom"] == pytest.approx(1 / 6)
    path.write_text("formula,energy\nQq,1.0\n")
    bad = subprocess.run([esml, "materials", "hull", str(path)], capture_output=True, text=True, cwd=tmp_path)
    assert bad.returncode == 2 and "unknown element(s) Qq" in bad.stderr


def test_composition_trees_separate_stable_from_unstable_oxides():
    # Real perovskite data, a few hundred rows: the classifier must beat the majority class.
    import pandas as pd

    table = pd.read_csv(Path(__file__).parents[1] / "benchmarks" / "data" / "perovskite_oxides.csv").iloc[:400]
    features, names = composition_features(table["COMPOSITION"].tolist())
    assert features.shape == (400, len(names)) and np.isfinite(features).all()
    stable = table["ENERGY_ABOVE_HULL"].to_numpy() <= 100.0
    test = random_split(len(table), seed=1)
    model = fit_trees(features[~test], stable[~test], TreeConfig(n_trees=100), classify=True)
    scores = stability_scores(stable[test], model.predict(features[test]))
    majority = max(stable[test].mean(), 1 - stable[test].mean())
    assert scores["accuracy"] > majority + 0.05 and scores["f1"] > 0.6


def test_prototypes_are_decorated_once_and_scaled_to_bond_lengths():
    from ase.data import covalent_radii
    from ase.neighborlist import neighbor_list

    from esml.properties.prototypes import GenerateConfig, generate

    frames = generate(["Na", "Cl"], GenerateConfig(prototypes=("rocksalt", "l12"), strains=(1.0, 1.04), min_width=0,
                                                     references=()))
    kinds = sorted({(a.info["prototype"], a.info["formula"]) for a in frames})
    assert kinds == [("l12", "Cl3Na"), ("l12", "ClNa3"), ("rocksalt", "ClNa")]  # rock salt NaCl = ClNa: once
    rocksalt = next(a for a in frames if a.info["prototype"] == "rocksalt" and a.info["strain"] == 1.0)
    assert len(rocksalt) == 8 and rocksalt.pbc.all()
    _, _, distances = neighbor_list("ijd", rocksalt, 4.0)
    pauling = 2 * 0.3 * np.log10(6 / 4)  # six neighbours: longer than a covalent bond
    assert distances.min() == pytest.approx(covalent_radii[11] + covalent_radii[17] + pauling)
    strained = next(a for a in frames if a.info["prototype"] == "rocksalt" and a.info["strain"] == 1.04)
    assert strained.get_volume() == pytest.approx(rocksalt.get_volume() * 1.04 ** 3)


def test_bad_prototypes_and_elements_are_explained():
    from esml.properties.prototypes import GenerateConfig, PrototypeError, generate

    with pytest.raises(PrototypeError, match="unknown prototype 'spinel'"):
        generate(["Mg", "O"], GenerateConfig(prototypes=("spinel",)))
    with pytest.raises(PrototypeError, match="unknown element"):
        generate(["Mg", "Qq"])


def test_scan_minimum_and_edge_extensions():
    from ase.build import bulk

    from esml.properties.ranking import Minimum, extensions, scan_minimum

    volumes = np.array([10.0, 11.0, 12.0, 13.0])
    energy, volume, inside = scan_minimum(volumes, 0.5 * (volumes - 11.4) ** 2 - 3.0)
    assert (energy, volume, inside) == (pytest.approx(-3.0), pytest.approx(11.4), True)
    assert scan_minimum(volumes, -volumes)[2] is False
    frames = []
    for strain in (0.96, 1.0, 1.04):
        atoms = bulk("Si", "diamond", a=5.43 * strain)
        atoms.info.update(strain=strain, prototype="diamond", formula="Si")
        frames.append(atoms)
    edge = Minimum("diamond", "Si", -1.0, frames[-1].get_volume() / 2, False)
    more = extensions({("diamond", "Si"): frames}, [edge])
    assert [a.info["strain"] for a in more] == [1.08, 1.12]
    assert more[0].cell.lengths()[0] == pytest.approx(frames[1].cell.lengths()[0] * 1.08)


def test_generate_label_train_rank_from_the_command_line(tmp_path):
    esml = str(Path(sys.executable).with_name("esml"))

    def run(*args):
        result = subprocess.run([esml, *args], capture_output=True, text=True, cwd=tmp_path,
                                env={**os.environ, "ESML_CACHE": str(tmp_path / "cache.sqlite")})
        assert result.returncode == 0, result.stderr
        return result

    # Small cells at the Γ point: metallic references (fcc Si) would not converge, so diamond only.
    run("materials", "generate", "--elements", "Si,C", "--prototypes", "zincblende,rocksalt", "--references", "diamond",
        "--strains", "0.96,1,1.04", "--min-width", "0", "-o", "candidates.extxyz")
    run("label", "candidates.extxyz", "--method", "gfn1-xtb", "-o", "labeled.extxyz", "-q")
    run("materials", "rank", "labeled.extxyz", "--json", "xtb.json", "--plot", "hull.png")
    ranked = json.loads((tmp_path / "xtb.json").read_text())
    assert {(r["formula"], r["prototype"]) for r in ranked} == {("CSi", "zincblende"), ("CSi", "rocksalt"),
                                                              ("C", "diamond"), ("Si", "diamond")}
    assert min(r["e_above_hull_eV_per_atom"] for r in ranked) == pytest.approx(0.0, abs=1e-9)
    assert (tmp_path / "hull.png").stat().st_size > 10_000
    run("train", "--model", "cgcnn", "--data", "labeled.extxyz", "--epochs", "3", "--out", "cgcnn.pt")
    run("materials", "rank", "labeled.extxyz", "--model", "cgcnn.pt", "--json", "model.json")
    assert len(json.loads((tmp_path / "model.json").read_text())) == len(ranked)
    run("attribute", "cgcnn.pt", "labeled.extxyz", "--json", "sites.json", "--plot", "sites.png")
    sites = json.loads((tmp_path / "sites.json").read_text())
    assert sum(sites["site_energies_eV"]) == pytest.approx(sites["energy_eV"])
    assert (tmp_path / "sites.png").stat().st_size > 5_000
