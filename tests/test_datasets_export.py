"""Bundled QM9/QM7 imports, export to extxyz/HDF5, and the PyTorch dataset."""

import csv
import sys

import ase.io
import numpy as np
import pytest
import torch
from torch.utils.data import DataLoader

from esml import units
from esml.data.bundled import import_bundled, qm9_files
from esml.data.export import export_frames, read_hdf5
from esml.data.query import query
from esml.data.store import StoreError
from esml.data.torch_dataset import AtomsDataset, collate_atoms


def test_qm9_import_converts_units(store):
    summary = import_bundled(store, "qm9", limit=50)
    assert summary.name == "qm9-50" and sum(summary.sizes.values()) == 50
    csv.field_size_limit(sys.maxsize)
    with open(qm9_files()[0], newline="") as stream:
        rows = [row for _, row in zip(range(50), csv.DictReader(stream))]
    frames = query(store, dataset="qm9-50")
    for row, atoms in zip(rows, frames):
        assert atoms.get_potential_energy() == pytest.approx(float(row["InternalEnergy_0K_au"]) * units.HARTREE_TO_EV, abs=1e-9)
        assert atoms.info["gap"] == pytest.approx(float(row["HOMO_LUMO_gap_au"]) * units.HARTREE_TO_EV)
        assert atoms.info["alpha"] == pytest.approx(float(row["Polarizability_bohr3"]) * units.BOHR_TO_ANGSTROM**3)
        assert len(atoms) == int(row["N_atoms"])
    assert frames[0].get_chemical_formula() == "CH4"
    with pytest.raises(StoreError, match="already in the store"):
        import_bundled(store, "qm9", limit=50)


def test_qm7_import_and_unknown_name(sqlite_store):
    summary = import_bundled(sqlite_store, "qm7", limit=30, seed=3)
    (methane,) = query(sqlite_store, 'chemical_formula_reduced = "CH4"', dataset="qm7-30")
    assert methane.info["atomization_energy"] == pytest.approx(-417.031 * units.KCAL_PER_MOL_TO_EV)
    assert summary.sizes == {"train": 24, "validation": 3, "test": 3}
    with pytest.raises(StoreError, match="esml bundles qm9, qm7"):
        import_bundled(sqlite_store, "qm8")


def test_g2_import_keeps_the_functional_training_split(sqlite_store):
    from esml.functionals.g2 import g2_set
    from esml.functionals.training_set import references, split

    summary = import_bundled(sqlite_store, "g2", sets={"g2": g2_set()})
    species = references()["species"]
    held_out = sum(name.removesuffix("+") in split()["heldout"] for name in species)  # a cation goes with its neutral
    assert summary.sizes == {"train": len(species) - held_out, "validation": 0, "test": held_out}
    methane, cation = sorted(query(sqlite_store, 'chemical_formula_reduced = "CH4"', dataset="g2"),
                             key=lambda atoms: atoms.info["charge"])
    assert (methane.info["charge"], cation.info["charge"], cation.info["multiplicity"]) == (0, 1, 2)
    assert cation.get_potential_energy() == pytest.approx(species["CH4+"]["energy_ha"] * units.HARTREE_TO_EV, abs=1e-6)
    (water,) = query(sqlite_store, 'chemical_formula_reduced = "H2O"', dataset="g2")
    assert water.info["experimental_atomization_energy"] == pytest.approx(232.6 * units.KCAL_PER_MOL_TO_EV, abs=0.01)
    assert water.get_potential_energy() == pytest.approx(species["H2O"]["energy_ha"] * units.HARTREE_TO_EV, abs=1e-6)


def test_export_round_trips_through_extxyz_and_hdf5(sqlite_store, tmp_path):
    import_bundled(sqlite_store, "qm9", limit=20)
    frames = query(sqlite_store)
    export_frames(frames, tmp_path / "out.xyz")
    export_frames(frames, tmp_path / "out.h5")
    for back in (ase.io.read(tmp_path / "out.xyz", index=":"), read_hdf5(tmp_path / "out.h5")):
        assert len(back) == 20
        for a, b in zip(frames, back):
            assert np.allclose(a.positions, b.positions) and a.get_potential_energy() == pytest.approx(b.get_potential_energy())
    import h5py
    with h5py.File(tmp_path / "out.h5") as h5:
        assert np.allclose(h5["properties/gap"][()], [a.info["gap"] for a in frames])
        assert h5["method"][0].decode() == "b3lyp/6-31g(2df,p)"


def test_torch_dataset_batches_atoms(sqlite_store):
    import_bundled(sqlite_store, "qm9", limit=40)
    dataset = AtomsDataset.from_store(sqlite_store, dataset="qm9-40", split="train", targets=("energy", "gap", "charges"))
    assert len(dataset) == 32
    batch = next(iter(DataLoader(dataset, batch_size=5, collate_fn=collate_atoms)))
    n_total = int(batch["n_atoms"].sum())
    assert batch["positions"].shape == (n_total, 3) and batch["charges"].shape == (n_total,)
    assert batch["energy"].shape == (5,) and batch["batch"].max() == 4
    assert batch["positions"].dtype == torch.float64
    with pytest.raises(Exception, match="has no 'forces'"):
        AtomsDataset.from_store(sqlite_store, targets=("energy", "forces"))
