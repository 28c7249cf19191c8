"""Which stored value a property model learns, in which unit it is reported, and the molecules of
the stored train/test splits (``esml datasets import qm7|qm9``) it learns from.

QM9's energies (U0, U, H, G) are learned as total energies minus a per-element linear fit on the
training molecules (the dressed-atom baseline, see ``esml.properties.krr``): the error is then the
error of the atomisation energy for any choice of free-atom reference energies, because those
enter as exactly such a linear term. QM7's value is the PBE0 atomisation energy as published.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from ase import Atoms

from esml import units
from esml.data.query import frames_by_id, ids
from esml.data.store import Store
from esml.properties.representations import PropertyError


@dataclass(frozen=True)
class Target:
    key: str  # the stored property (eV, e·Å, Å³, … as stored)
    extensive: bool  # grows with the molecule: fitted over a per-element baseline
    unit: str  # the unit errors are reported in
    factor: float  # stored unit -> reported unit


EV_TO_KCAL = 1.0 / units.KCAL_PER_MOL_TO_EV
TARGETS = {
    "qm7": {"atomization": Target("atomization_energy", True, "kcal/mol", EV_TO_KCAL)},
    "qm9": {
        "U0": Target("u0", True, "kcal/mol", EV_TO_KCAL),
        "U": Target("u298", True, "kcal/mol", EV_TO_KCAL),
        "H": Target("h298", True, "kcal/mol", EV_TO_KCAL),
        "G": Target("g298", True, "kcal/mol", EV_TO_KCAL),
        "gap": Target("gap", False, "meV", 1000.0),
        "homo": Target("homo", False, "meV", 1000.0),
        "lumo": Target("lumo", False, "meV", 1000.0),
        "mu": Target("mu", False, "D", 1.0 / units.DEBYE_TO_E_ANGSTROM),
        "alpha": Target("alpha", True, "Å^3", 1.0),
        "zpve": Target("zpve", True, "meV", 1000.0),
        "cv": Target("cv", True, "cal/mol/K", 1.0),
    },
}


def target(dataset: str, name: str) -> Target:
    """The target ``name`` of a bundled set, or of a part of one (``qm7-500`` is QM7's first 500)."""
    family = dataset.split("-", 1)[0]
    if family not in TARGETS:
        raise PropertyError(f"unknown dataset {dataset!r}; use {' or '.join(TARGETS)} (or a part: qm7-500)")
    if name not in TARGETS[family]:
        raise PropertyError(f"{family} has no target {name!r}; use one of {', '.join(TARGETS[family])}")
    return TARGETS[family][name]


def values(frames: list[Atoms], chosen: Target) -> np.ndarray:
    """The stored values, in the stored unit; a molecule without one is an error, not a zero."""
    missing = [index for index, atoms in enumerate(frames) if chosen.key not in atoms.info]
    if missing:
        raise PropertyError(f"{len(missing)} molecules have no stored {chosen.key!r} (the first: entry "
                            f"{frames[missing[0]].info.get('esml_id')})")
    return np.array([atoms.info[chosen.key] for atoms in frames], dtype=np.float64)


def split_frames(store: Store, dataset: str, split: str, n: int | None, seed: int) -> list[Atoms]:
    """The first ``n`` molecules of a seeded shuffle of a stored split: the N-molecule training
    sets of a learning curve are nested, and the same on every machine."""
    members = ids(store, dataset=dataset, split=split)  # only the ids: a split of QM9 is 100k molecules
    if n is not None and n > len(members):
        raise PropertyError(f"the {split} split of {dataset} has {len(members)} molecules, fewer than the {n} asked for")
    order = np.random.default_rng(seed).permutation(len(members))
    return frames_by_id(store, [members[i] for i in order[:n]])
