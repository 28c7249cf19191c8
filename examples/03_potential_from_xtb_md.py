"""From a quantum reference to MD with a learned potential, in Python (about a minute on 2 cores).

GFN2-xTB MD of ethanol gives frames; the label cache labels them; a 2-member ANI ensemble is
trained on them (in two processes, hence the main guard); the ensemble runs MD through its
ASE calculator and reports its uncertainty.
"""

from pathlib import Path
from tempfile import TemporaryDirectory

from ase.build import molecule

from esml.potentials import load_calculator
from esml.qm import calculator as reference
from esml.qm import parse_method
from esml.qm.cache import LabelCache, default_cache_path
from esml.qm.label import label_structures
from esml.simulate.dynamics import run_md, sample_langevin
from esml.simulate.settings import MDSettings
from esml.training.config import TrainConfig
from esml.training.data import split_frames
from esml.training.run import train_ensemble


def main() -> None:
    frames = sample_langevin(molecule("CH3CH2OH"), reference("gfn2-xtb"), 500.0, steps=800, interval=20)
    labeled, _ = label_structures(frames, parse_method("gfn2-xtb"), LabelCache(default_cache_path()))
    splits = split_frames(labeled, valid_fraction=0.2, seed=0)

    with TemporaryDirectory() as folder:
        small = {"hidden": {1: [64, 32], 6: [64, 32], 8: [64, 32]}}
        result = train_ensemble("ani", splits, Path(folder) / "ethanol.pt", TrainConfig(max_epochs=40), members=2, options=small)
        print(f"validation force MAE {1000 * result.valid['force_mae']:.0f} meV/Å on {len(splits.valid)} frames")
        model = load_calculator(result.path)

    _, summary = run_md(molecule("CH3CH2OH"), model, MDSettings(temperature_K=300.0, steps=400, interval=20))
    atoms = molecule("CH3CH2OH")
    atoms.calc = model
    print(f"MD: mean T {summary.mean_temperature_K:.0f} K, bonds changed {summary.bonds_changed}")
    print(f"energy {atoms.get_potential_energy():.3f} ± {atoms.calc.get_property('energy_std', atoms):.3f} eV; "
          f"largest force spread {atoms.calc.get_property('forces_std', atoms).max():.3f} eV/Å")


if __name__ == "__main__":
    main()
