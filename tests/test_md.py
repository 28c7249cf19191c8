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


def test_md_that_the_model_collapses_ends_with_the_frames_so_far_and_says_which_atoms():
    """A model that pulls two atoms onto each other must not end MD with a traceback about 'the
    structure': the summary names the collapse and the time, and the frames before it are kept."""
    from ase.calculators.emt import EMT

    from esml.errors import OverlapError
    from esml.simulate.dynamics import run_md
    from esml.simulate.settings import MDSettings

    class CollapsesAfter40Calls(EMT):
        calls = 0

        def calculate(self, *args, **kwargs):
            CollapsesAfter40Calls.calls += 1
            if CollapsesAfter40Calls.calls > 40:
                raise OverlapError("frame 0 (Cu4): atoms 0 and 1 overlap (0.200 Å apart, under 0.3 Å); fix the structure", (0, 1), 0.2)
            super().calculate(*args, **kwargs)

    from ase.build import bulk

    copper = bulk("Cu", cubic=True)
    frames, summary = run_md(copper, CollapsesAfter40Calls(), MDSettings(steps=100, interval=10, temperature_K=300.0))
    assert 0 < len(frames) < 10 and summary.frames == len(frames)
    assert summary.collapse == "atoms 0 and 1 come 0.200 Å apart"
    assert summary.collapsed_after_fs == frames[-1].time_fs
