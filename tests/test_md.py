import numpy as np
from ase.build import molecule

from esml.qm import calculator
from esml.simulate.dynamics import sample_langevin


def test_langevin_sampling_gives_distinct_unlabeled_frames_at_rest():
    ethanol = molecule("CH3CH2OH")
    frames = sample_langevin(ethanol, calculator("gfn2-xtb"), 500.0, steps=40, interval=10, seed=3)
    assert len(frames) == 4
    assert all(frame.calc is None and not frame.constraints for frame in frames)
    assert not np.allclose(frames[0].positions, frames[1].positions)
    centre = ethanol.get_center_of_mass()
    for frame in frames:  # FixCom keeps the molecule from drifting
        np.testing.assert_allclose(frame.get_center_of_mass(), centre, atol=1e-8)
    again = sample_langevin(ethanol, calculator("gfn2-xtb"), 500.0, steps=40, interval=10, seed=3)
    np.testing.assert_allclose(again[-1].positions, frames[-1].positions, atol=1e-10)  # seeded
