"""Structure analysis of disordered solids, checked on crystals: diamond's coordination, rings,
angles and distances, a vacancy's broken bonds, and refusals."""

import numpy as np
import pytest

from esml.errors import EsmlError


def test_diamond_is_four_fold_with_six_rings_and_its_known_distances():
    from ase.build import bulk

    from esml.disorder.structure import radial_distribution, rdf_peaks, structure_report

    silicon = bulk("Si", "diamond", 5.431, cubic=True).repeat(3)
    report = structure_report(silicon, cutoff=2.85)
    assert report.coordination == {4: 1.0} and report.rings == {6: 432}  # 2 six-rings per atom
    assert report.mean_angle == pytest.approx(109.4712, abs=1e-3) and report.density == pytest.approx(2.329, abs=1e-3)
    radii, rdf = radial_distribution(silicon, 6.0, bins=600)
    first, second = rdf_peaks(radii, rdf)
    assert first == pytest.approx(5.431 * np.sqrt(3) / 4, abs=0.01) and second == pytest.approx(5.431 / np.sqrt(2), abs=0.01)
    assert np.mean(rdf[radii > 4.9]) == pytest.approx(1.0, abs=0.5) and rdf[radii < 2.0].max() == 0


def test_a_vacancy_leaves_four_three_fold_neighbours():
    from ase.build import bulk

    from esml.disorder.structure import coordination, structure_report

    silicon = bulk("Si", "diamond", 5.431, cubic=True).repeat(3)
    del silicon[[0]]  # a vacancy: its 4 neighbours lose a bond
    numbers = coordination(silicon, 2.85)
    assert (numbers == 3).sum() == 4 and (numbers == 4).sum() == len(silicon) - 4
    assert structure_report(silicon, 2.85).coordination[3] == pytest.approx(4 / len(silicon))


def test_structure_analysis_refuses_molecules_and_small_cells():
    from ase.build import bulk, molecule

    from esml.disorder.structure import structure_report

    with pytest.raises(EsmlError, match="not periodic"):
        structure_report(molecule("H2O"), 1.2)
    with pytest.raises(EsmlError, match="less than twice"):
        structure_report(bulk("Si", "diamond", 5.431), 2.85)
