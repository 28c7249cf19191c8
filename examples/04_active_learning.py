"""The main job from Python: a GP potential for a silicon crystal that picks its own xTB calls.

`esml learn` is a thin layer over `ActiveLearner`; this does the same on an 8-atom diamond cell
at 600 K, then runs NVT MD with the learned model and prints its calibrated force uncertainty.
A few minutes on 2 cores; labels go through the label cache, so a rerun is faster.
"""

from pathlib import Path
from tempfile import TemporaryDirectory

from ase.build import bulk

from esml.active.config import LearnConfig, WalkSettings
from esml.active.loop import ActiveLearner, Hooks
from esml.potentials import load_calculator
from esml.qm.cache import LabelCache, default_cache_path
from esml.simulate.dynamics import run_md
from esml.simulate.settings import MDSettings


def main() -> None:
    silicon = bulk("Si", "diamond", a=5.43, cubic=True)
    config = LearnConfig(oracle="gfn2-xtb", target_force_mae=0.05, temperatures=(600.0,), budget=40,
                         walk=WalkSettings(steps=200), n_validation=6, batch_size=4)
    with TemporaryDirectory() as folder:
        run_dir = Path(folder) / "silicon"
        learner = ActiveLearner(run_dir, config, LabelCache(default_cache_path()), Hooks(log=print))
        learner.start(silicon)
        state = learner.run()
        last = state.rounds[-1]["validation"]
        print(f"{state.status} after {state.oracle_calls} xTB calls: validation force MAE "
              f"{1000 * last['force_mae']:.1f} meV/Å, σ scale {last['calibration_scale']:.2f}")
        model = load_calculator(run_dir / "model.pt")
        _, summary = run_md(silicon.repeat(2), model, MDSettings(temperature_K=600.0, steps=400, interval=100))
        print(f"MD of a 64-atom cell with the model: {summary.frames} frames at {summary.mean_temperature_K:.0f} K, "
              f"bonds changed {summary.bonds_changed}")


if __name__ == "__main__":
    main()
