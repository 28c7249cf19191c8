"""The store as a PyTorch dataset, for the training code.

Each item is a dict of tensors (units eV, Å):
- ``numbers`` (n_atoms,) int64, ``positions`` (n_atoms, 3), ``cell`` (3, 3), ``pbc`` (3,) bool
- one entry per target: ``energy`` (), ``forces`` (n_atoms, 3), or any scalar property such as ``gap`` ()
:func:`collate_atoms` joins items into one batch of concatenated atoms with a ``batch`` index.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import torch
from ase import Atoms
from torch.utils.data import Dataset

from esml.data.query import query
from esml.data.store import Store
from esml.errors import EsmlError


class AtomsDataset(Dataset):
    """Frames held as tensors; ``targets`` names what each item must carry."""

    def __init__(self, frames: Sequence[Atoms], targets: Sequence[str] = ("energy", "forces"),
                 dtype: torch.dtype = torch.float64):
        self.targets = tuple(targets)
        self.items = [_item(atoms, index, self.targets, dtype) for index, atoms in enumerate(frames)]

    @classmethod
    def from_store(cls, store: Store, filter_text: str = "", *, dataset: str | None = None,
                   split: str | None = None, **options) -> AtomsDataset:
        frames = query(store, filter_text, dataset=dataset, split=split)
        if not frames:
            raise EsmlError("the selection is empty: no frames to train on")
        return cls(frames, **options)

    def __len__(self) -> int:
        return len(self.items)

    def __getitem__(self, index: int) -> dict[str, torch.Tensor]:
        return self.items[index]


def collate_atoms(items: Sequence[dict[str, torch.Tensor]]) -> dict[str, torch.Tensor]:
    """A batch: per-atom tensors concatenated, per-frame tensors stacked; ``batch`` (n_total,) maps
    each atom to its frame and ``n_atoms`` (n_frames,) counts them."""
    n_atoms = torch.tensor([len(item["numbers"]) for item in items])
    batch = {"n_atoms": n_atoms, "batch": torch.repeat_interleave(torch.arange(len(items)), n_atoms)}
    for key, value in items[0].items():
        per_atom = value.dim() > 0 and key in ("numbers", "positions", "forces", "charges")
        batch[key] = torch.cat([item[key] for item in items]) if per_atom else torch.stack([item[key] for item in items])
    return batch


def _item(atoms: Atoms, index: int, targets: Sequence[str], dtype: torch.dtype) -> dict[str, torch.Tensor]:
    item = {
        "numbers": torch.as_tensor(atoms.numbers, dtype=torch.int64),
        "positions": torch.as_tensor(atoms.positions, dtype=dtype),
        "cell": torch.as_tensor(atoms.cell.array, dtype=dtype),
        "pbc": torch.as_tensor(atoms.pbc, dtype=torch.bool),
    }
    results = atoms.calc.results if atoms.calc is not None else {}
    for target in targets:
        value = results.get(target, atoms.info.get(target))
        if value is None:
            raise EsmlError(f"frame {index} (store id {atoms.info.get('esml_id')}) has no {target!r}; "
                            f"select frames that have it, e.g. with the filter '_esml_{target} IS KNOWN'")
        item[target] = torch.as_tensor(np.asarray(value), dtype=dtype)
    return item
