"""Labeled frames for training: read, checked, split, and turned into batches of graphs.

Frames come from a structure file (extxyz with energies and forces; a frame's
``info['split']`` of 'train', 'valid' or 'test' is honoured) or from a store dataset with its
stored splits. A validation split that is not given is carved from the training frames with
the seed, and its frame indices are kept with the model.
"""

from __future__ import annotations

import warnings
from collections.abc import Iterator, Sequence
from dataclasses import dataclass

import numpy as np
import torch
from ase import Atoms

from esml.errors import EsmlError, EsmlWarning
from esml.graph import AtomicGraph, atoms_to_graph, batch_graphs
from esml.structures import describe

SPLITS = ("train", "valid", "test")
FEW_VALIDATION = 10  # fewer validation frames than this make early stopping and the reported errors noisy
_SPLIT_ALIASES = {"train": "train", "training": "train", "valid": "valid", "validation": "valid", "val": "valid", "test": "test"}


@dataclass(frozen=True)
class Splits:
    train: list[Atoms]
    valid: list[Atoms]
    test: list[Atoms]


def store_splits(db: str | None, dataset: str) -> dict[str, list[Atoms]]:
    """A store dataset's frames by their stored split."""
    from esml.data import open_store, query
    from esml.data.query import SPLITS as STORE_SPLITS

    store = open_store(db, existing=True)
    return {_SPLIT_ALIASES[split]: query(store, dataset=dataset, split=split) for split in STORE_SPLITS}


def split_frames(frames: Sequence[Atoms], valid_fraction: float, seed: int) -> Splits:
    """Frames by ``info['split']``; without a 'valid' split, ``valid_fraction`` of 'train' is drawn with ``seed``."""
    by_split: dict[str, list[Atoms]] = {split: [] for split in SPLITS}
    for index, atoms in enumerate(frames):
        name = str(atoms.info.get("split", "train")).lower()
        if name not in _SPLIT_ALIASES:
            raise EsmlError(f"{describe(atoms, index)}: split {name!r} is not one of train, valid, test")
        by_split[_SPLIT_ALIASES[name]].append(atoms)
    return carve_validation(by_split, valid_fraction, seed)


def carve_validation(by_split: dict[str, list[Atoms]], valid_fraction: float, seed: int) -> Splits:
    train, valid = list(by_split["train"]), list(by_split["valid"])
    if not valid and len(train) > 1:
        n_valid = max(1, round(valid_fraction * len(train)))
        chosen = set(np.random.default_rng(seed).permutation(len(train))[:n_valid].tolist())
        valid = [atoms for index, atoms in enumerate(train) if index in chosen]
        train = [atoms for index, atoms in enumerate(train) if index not in chosen]
    if not train:
        raise EsmlError("no training frames: the data is empty or every frame is in the 'valid'/'test' split")
    if len(valid) < FEW_VALIDATION:
        warnings.warn(EsmlWarning(
            f"only {len(valid)} validation frame(s): early stopping and the reported validation errors rest on them "
            f"and are noisy; give more frames or a larger --valid-fraction (at least {FEW_VALIDATION} frames)"), stacklevel=2)
    return Splits(train, valid, list(by_split["test"]))


def check_labels(frames: Sequence[Atoms], forces: bool, what: str = "the data", dipoles: bool = False) -> None:
    """Every frame has an energy, forces when the force loss is on, a dipole when the dipole loss is."""
    for index, atoms in enumerate(frames):
        results = atoms.calc.results if atoms.calc is not None else {}
        if "energy" not in results:
            raise EsmlError(f"{what}: {describe(atoms, index)} has no energy; label the frames first (`esml label`)")
        if forces and "forces" not in results:
            raise EsmlError(f"{what}: {describe(atoms, index)} has no forces; label with forces or train with --force-weight 0")
        if dipoles and "dipole" not in results:
            raise EsmlError(f"{what}: {describe(atoms, index)} has no dipole; label with a method that gives one "
                            "(HF, DFT, xTB) or train without --dipole-weight")


@dataclass(frozen=True)
class Batch:
    """graph: the frames joined; energy (n_structures,) float64 eV; forces (n_atoms, 3) eV/Å or None;
    dipole (n_structures, 3) float64 e·Å and charge (n_structures,) e, or None."""

    graph: AtomicGraph
    energy: torch.Tensor
    forces: torch.Tensor | None
    dipole: torch.Tensor | None = None
    charge: torch.Tensor | None = None


class GraphSet:
    """Frames held as graphs (neighbour lists computed once) with their labels; dipoles where every
    frame has one."""

    def __init__(self, frames: Sequence[Atoms], cutoff: float, forces: bool = True, dtype: torch.dtype = torch.float32):
        self.graphs = [atoms_to_graph(atoms, cutoff, dtype, describe(atoms, index)) for index, atoms in enumerate(frames)]
        self.energy = torch.tensor([atoms.get_potential_energy() for atoms in frames], dtype=torch.float64)
        self.forces = [torch.as_tensor(atoms.get_forces(), dtype=dtype) for atoms in frames] if forces else None
        with_dipoles = bool(frames) and all("dipole" in atoms.calc.results for atoms in frames)
        self.dipole = torch.tensor(np.array([atoms.get_dipole_moment() for atoms in frames]), dtype=torch.float64) if with_dipoles else None
        self.charge = torch.tensor([float(atoms.info.get("charge", 0)) for atoms in frames], dtype=torch.float64)

    def __len__(self) -> int:
        return len(self.graphs)

    def batch(self, indices: Sequence[int]) -> Batch:
        return Batch(
            batch_graphs([self.graphs[i] for i in indices]),
            self.energy[list(indices)],
            torch.cat([self.forces[i] for i in indices]) if self.forces is not None else None,
            self.dipole[list(indices)] if self.dipole is not None else None,
            self.charge[list(indices)],
        )

    def batches(self, batch_size: int, generator: torch.Generator | None = None) -> Iterator[Batch]:
        """Shuffled batches when a generator is given, in order otherwise."""
        order = torch.randperm(len(self), generator=generator).tolist() if generator is not None else list(range(len(self)))
        for start in range(0, len(order), batch_size):
            yield self.batch(order[start:start + batch_size])


def element_counts(frames: Sequence[Atoms], species: Sequence[int]) -> np.ndarray:
    """(n_frames, n_species) how many atoms of each element each frame has."""
    column = {z: k for k, z in enumerate(species)}
    counts = np.zeros((len(frames), len(species)))
    for row, atoms in enumerate(frames):
        for z in atoms.numbers:
            counts[row, column[int(z)]] += 1
    return counts


def fit_self_energies(frames: Sequence[Atoms], species: Sequence[int]) -> np.ndarray:
    """Per-element energies (eV) by least squares, E ≈ Σ_elements n_e ε_e; the model learns the rest.

    With fewer independent compositions than elements the system is underdetermined: the
    minimum-norm solution is taken (its residual still has mean zero) and an EsmlWarning says that
    energies of other compositions will carry an offset the data cannot fix.
    """
    energies = np.array([atoms.get_potential_energy() for atoms in frames])
    counts = element_counts(frames, species)
    solution, _, rank, _ = np.linalg.lstsq(counts, energies, rcond=None)
    if rank < len(species):
        formulas = ", ".join(compositions(frames)[:5])
        warnings.warn(EsmlWarning(
            f"per-element reference energies cannot be determined from {rank} independent composition(s) ({formulas}) "
            f"for {len(species)} elements: energies of other compositions will be off by an unknown offset; train on "
            "more compositions, or compare only forces and offset-free energies elsewhere"), stacklevel=2)
    return solution


def isolated_atom_energies(path) -> dict[int, float]:
    """Per-element reference energies (eV) from a structure file of labeled one-atom frames."""
    from esml.structures import read_structures

    references = {}
    for index, atoms in enumerate(read_structures(path)):
        if len(atoms) != 1 or atoms.calc is None or "energy" not in atoms.calc.results:
            raise EsmlError(f"{path}: {describe(atoms, index)} is not one atom with an energy; give isolated-atom frames with energies")
        references[int(atoms.numbers[0])] = float(atoms.get_potential_energy())
    return references


def reference_energies(frames: Sequence[Atoms], species: Sequence[int], isolated: dict[int, float] | None) -> np.ndarray:
    """Per-element reference energies: the isolated atoms' where given, else a fit to ``frames``."""
    if isolated is None:
        return fit_self_energies(frames, species)
    missing = [z for z in species if z not in isolated]
    if missing:
        from ase.data import chemical_symbols

        raise EsmlError(f"no isolated-atom energy for {', '.join(chemical_symbols[z] for z in missing)}; "
                        "add those atoms to the reference file, or leave it out to fit references to the training energies")
    return np.array([isolated[z] for z in species])


def compositions(frames: Sequence[Atoms]) -> list[str]:
    """The distinct compositions (Hill formulas) of the frames, in order of first appearance."""
    return list(dict.fromkeys(atoms.get_chemical_formula("hill") for atoms in frames))


def compositions_outside(trained_on: Sequence[str], frames: Sequence[Atoms]) -> list[str]:
    """Compositions of ``frames`` whose per-element energies the ``trained_on`` compositions do not
    determine: not a linear combination of them (where those fix every element, none is outside)."""
    from ase.formula import Formula

    elements = sorted({symbol for formula in trained_on for symbol in Formula(formula).count()}
                      | {symbol for atoms in frames for symbol in atoms.get_chemical_symbols()})
    basis = np.array([_counts(Formula(f), elements) for f in trained_on]).reshape(len(trained_on), len(elements))
    outside = []
    for formula in compositions(frames):
        target = _counts(Formula(formula), elements)
        coefficients, *_ = np.linalg.lstsq(basis.T, target, rcond=None)
        if np.linalg.norm(basis.T @ coefficients - target) > 1e-8 * max(1.0, np.linalg.norm(target)):
            outside.append(formula)
    return outside


def _counts(formula, elements: Sequence[str]) -> np.ndarray:
    count = formula.count()
    return np.array([count.get(symbol, 0) for symbol in elements], dtype=float)


def force_scale(frames: Sequence[Atoms], self_energies: np.ndarray, species: Sequence[int]) -> float:
    """Typical size of what the network must learn: the larger of the RMS force component (eV/Å) and
    the spread of the residual energy per atom (eV). Either alone can fail: crystals at symmetric
    sites have zero forces but energies eV apart; MD frames have tiny residuals but large forces."""
    forces = [atoms.calc.results.get("forces") for atoms in frames]
    rms = 0.0
    if all(f is not None for f in forces):
        rms = float(np.sqrt(np.mean(np.concatenate([np.ravel(f) for f in forces]) ** 2)))
    residual = np.array([atoms.get_potential_energy() for atoms in frames]) - element_counts(frames, species) @ self_energies
    n_atoms = np.array([len(atoms) for atoms in frames])
    return max(rms, float(np.std(residual / n_atoms))) or 1.0
