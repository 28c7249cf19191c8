"""esml search: pair potentials against ASE's, the evaluation counter, duplicate minima, resuming,
the LJ13 minimum in a tiny run, policies, molecular moves with a real xTB, and the command."""

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from ase import Atoms
from ase.build import molecule
from ase.calculators.calculator import all_changes
from ase.calculators.lj import LennardJones as AseLennardJones
from ase.calculators.morse import MorsePotential
from scipy.spatial.transform import Rotation

from esml.errors import EsmlError
from esml.search.landscape import Landscape, relax, same_minimum
from esml.search.moves import MOVES, find_units
from esml.search.pair import LennardJones, Morse, PairCalculator
from esml.search.policy import SHIPPED, BasinHopping, LearnedPolicy, load_policy
from esml.search.run import SearchConfig, search
from esml.search.training import random_cluster

ESML = str(Path(sys.executable).with_name("esml"))
LJ13 = -44.326801  # Cambridge Cluster Database


@pytest.mark.parametrize("ours, theirs", [
    (LennardJones(), AseLennardJones(rc=1e4)),
    (Morse(rho=6.0), MorsePotential(epsilon=1.0, r0=1.0, rho0=6.0, rcut1=1e3, rcut2=1e4)),
])
def test_pair_potentials_equal_ases_without_a_cutoff(ours, theirs):
    atoms = random_cluster(13, seed=3, density=0.3)
    mine, reference = atoms.copy(), atoms.copy()
    mine.calc, reference.calc = PairCalculator(ours), theirs
    assert mine.get_potential_energy() == pytest.approx(reference.get_potential_energy(), rel=1e-12)
    np.testing.assert_allclose(mine.get_forces(), reference.get_forces(), rtol=1e-10, atol=1e-10)
    np.testing.assert_allclose(mine.get_potential_energies(), reference.get_potential_energies(), rtol=1e-12, atol=1e-12)


class CountingLJ(PairCalculator):
    """An ASE calculator that counts its own calculations, to check the search's counter."""

    def __init__(self):
        super().__init__(LennardJones())
        self.calls = 0

    def calculate(self, atoms=None, properties=("energy",), system_changes=all_changes):
        self.calls += 1
        super().calculate(atoms, properties, system_changes)


def test_the_counter_counts_every_calculation_of_the_calculator_relaxations_included():
    calculator = CountingLJ()
    result = search(random_cluster(8, seed=1), calculator, BasinHopping(), SearchConfig(evaluations=400, seed=1))
    assert result.hops > 2
    assert result.evaluations == calculator.calls
    assert result.evaluations >= 400  # the cap is checked between hops: the last relaxation finishes


def test_the_compiled_relaxation_of_a_pair_potential_reaches_scipys_minimum():
    from ase.cluster import Icosahedron

    start = Icosahedron("Ar", 2, latticeconstant=2 ** (2 / 3) * 1.0)  # LJ13, σ = 1 Å
    start.rattle(0.05, seed=1)
    compiled = relax(Landscape(start, LennardJones()), start.positions, 1e-5, 5000)
    scipy = relax(Landscape(start, PairCalculator(LennardJones())), start.positions, 1e-5, 5000)
    assert compiled.energy == pytest.approx(LJ13, abs=1e-6) and scipy.energy == pytest.approx(LJ13, abs=1e-6)
    assert same_minimum(compiled, scipy, 1e-6, 1e-5)


def test_the_same_minimum_is_recognised_after_rotating_and_relabelling_and_a_different_one_is_not():
    landscape = Landscape(random_cluster(13, seed=0), LennardJones())
    a = relax(landscape, random_cluster(13, seed=0).positions, 1e-4, 2000)
    turned = Rotation.from_euler("xyz", [0.3, 1.2, -0.7]).apply(a.positions)[np.random.default_rng(0).permutation(13)] + 5.0
    b = relax(landscape, turned, 1e-4, 2000)
    assert same_minimum(a, b, 1e-4)
    c = relax(landscape, random_cluster(13, seed=5).positions, 1e-4, 2000)
    assert abs(c.energy - a.energy) > 1e-3 and not same_minimum(a, c, 1e-4)


@pytest.mark.parametrize("policy", [BasinHopping(), load_policy(SHIPPED)], ids=["basin-hopping", "shipped"])
def test_a_tiny_run_finds_the_lj13_minimum(policy):
    result = search(random_cluster(13, seed=2), LennardJones(), policy, SearchConfig(evaluations=30_000, target=LJ13, seed=2))
    assert result.evaluations_to_target is not None
    assert result.best_energy == pytest.approx(LJ13, abs=1e-4)
    assert result.history[-1][0] == result.evaluations_to_target


def test_a_resumed_search_ends_where_an_uninterrupted_one_ends(tmp_path):
    start, policy = random_cluster(19, seed=4), load_policy(SHIPPED)
    whole = search(start, LennardJones(), policy, SearchConfig(evaluations=6000, seed=4))
    config = SearchConfig(evaluations=2500, seed=4, checkpoint_hops=1)
    search(start, LennardJones(), policy, config, tmp_path)
    resumed = search(start, LennardJones(), policy, SearchConfig(evaluations=6000, seed=4, checkpoint_hops=1), tmp_path)
    assert (resumed.evaluations, resumed.hops, resumed.best_energy) == (whole.evaluations, whole.hops, whole.best_energy)
    assert resumed.history == whole.history and resumed.minima == whole.minima


def test_a_folder_of_another_search_is_refused(tmp_path):
    search(random_cluster(7, seed=0), LennardJones(), BasinHopping(), SearchConfig(evaluations=200), tmp_path)
    with pytest.raises(EsmlError, match="holds a search of"):
        search(random_cluster(8, seed=0), LennardJones(), BasinHopping(), SearchConfig(evaluations=200), tmp_path)


def test_moves_keep_molecules_whole_and_atomic_clusters_move_atom_by_atom():
    water = molecule("H2O")
    cluster = water.copy()
    for shift in ([2.9, 0, 0], [0, 2.9, 0], [0, 0, 2.9]):
        moved = water.copy()
        moved.translate(shift)
        cluster += moved
    units = find_units(cluster, molecular=True)
    assert len(units.members) == 4 and units.molecular
    rng = np.random.default_rng(0)
    for name in ("shake", "cap", "jump", "rotate"):
        new = MOVES[name](cluster.positions, units, rng, 0.5, None)
        for m in units.members:  # rigid: every intramolecular distance kept
            before = np.linalg.norm(cluster.positions[m][:, None] - cluster.positions[m][None], axis=-1)
            after = np.linalg.norm(new[m][:, None] - new[m][None], axis=-1)
            np.testing.assert_allclose(after, before, atol=1e-10)
    assert len(find_units(random_cluster(5, seed=0), molecular=False).members) == 5


def test_a_water_cluster_with_xtb_keeps_its_molecules():
    pytest.importorskip("tblite")
    from esml.qm.engine import reference_calculator

    cluster = Atoms()
    for shift in ([0, 0, 0], [2.9, 0, 0.3]):
        moved = molecule("H2O")
        moved.translate(shift)
        cluster += moved
    calculator = reference_calculator("gfn2-xtb")
    result = search(cluster, calculator, BasinHopping(0.3, 0.1), SearchConfig(evaluations=60, fmax=0.05))
    assert result.hops >= 1
    units = find_units(result.best, molecular=True)
    assert units.species == ("H2O", "H2O")
    water = molecule("H2O")
    water.calc = calculator
    assert 0.1 < 2 * water.get_potential_energy() - result.best_energy < 0.5  # a hydrogen bond: ~0.2 eV


def test_policy_files_round_trip_and_a_foreign_file_is_refused(tmp_path):
    rng = np.random.default_rng(0)
    policy = LearnedPolicy.from_vector(rng.normal(size=LearnedPolicy.prior().vector.size), {"sizes": ["LJ26"]})
    policy.save(tmp_path / "policy.json")
    again = load_policy(tmp_path / "policy.json")
    np.testing.assert_array_equal(again.vector, policy.vector)
    assert again.description == "learned policy (trained on LJ26)"
    (tmp_path / "junk.json").write_text(json.dumps({"features": ["bias"]}))
    with pytest.raises(EsmlError, match="not a search policy"):
        load_policy(tmp_path / "junk.json")


def test_the_command_writes_the_best_structure_a_plot_and_refuses_to_overwrite_a_search(tmp_path):
    out = tmp_path / "run"
    args = [ESML, "search", "lj", "--size", "13", "--target", str(LJ13), "--evaluations", "30000", "--seed", "2",
            "--out", str(out), "--quiet"]
    done = subprocess.run(args, capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    summary = json.loads((out / "search.json").read_text())
    assert summary["best_energy"] == pytest.approx(LJ13, abs=1e-4) and summary["evaluations_to_target"] > 0
    assert (out / "search.png").stat().st_size > 1000 and (out / "best.xyz").exists()
    again = subprocess.run(args, capture_output=True, text=True)
    assert again.returncode == 2 and "already holds a search" in again.stderr


def test_policy_training_is_reproducible_with_a_seed_and_moves_the_weights():
    from esml.search.training import PolicyTraining, reference_targets, train_policy

    training = PolicyTraining(sizes=(7, 9), generations=2, pairs=2, episodes=1, evaluations=1500, reference_evaluations=1500)
    targets = reference_targets(training, searches=1)
    first, second = train_policy(training, targets), train_policy(training, targets)
    np.testing.assert_array_equal(first.vector, second.vector)
    assert not np.allclose(first.vector, LearnedPolicy.prior().vector)
    assert first.trained_on["sizes"] == ["LJ7", "LJ9"]


def test_an_interrupted_search_keeps_its_hops_and_goes_on(tmp_path):
    def interrupt(state):
        if state.hops == 7:
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        search(random_cluster(13, seed=0), LennardJones(), BasinHopping(), SearchConfig(evaluations=50_000), tmp_path, interrupt)
    saved = json.loads((tmp_path / "state.json").read_text())
    assert saved["hops"] == 7 and saved["evaluations"] > 7
    resumed = search(random_cluster(13, seed=0), LennardJones(), BasinHopping(),
                     SearchConfig(evaluations=saved["evaluations"] + 500), tmp_path)
    assert resumed.hops > 7 and resumed.evaluations >= saved["evaluations"] + 500
