"""Label rattled water molecules on a Dask cluster (here a LocalCluster), through the cache."""

from ase.build import molecule
from distributed import LocalCluster

from esml.qm import parse_method
from esml.qm.cache import LabelCache, default_cache_path
from esml.qm.label import label_structures

frames = []
for seed in range(8):
    atoms = molecule("H2O")
    atoms.rattle(0.05, seed=seed)
    frames.append(atoms)

if __name__ == "__main__":
    with LocalCluster(n_workers=2, threads_per_worker=1, dashboard_address=None) as cluster:
        labeled, report = label_structures(
            frames, parse_method("pbe/def2-svp", density_fit=True), LabelCache(default_cache_path()),
            scheduler=cluster.scheduler_address,
        )
    print(f"{report.computed} computed, {report.cached} from the cache, {len(report.failures)} failed")
    print([round(atoms.get_potential_energy(), 4) for atoms in labeled])
