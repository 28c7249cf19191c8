"""Which atoms a potential's energy comes from. Every esml potential is a sum of site energies, so
each atom's share is exact (the shares sum to the energy), like Shapley values of an additive model.
Shown relative to the element's reference energy, so a negative bar is an atom the environment
stabilises."""

from __future__ import annotations

import copy
from pathlib import Path

import numpy as np
import torch
from ase import Atoms

from esml.graph import atoms_to_graph
from esml.potential import Potential


def site_energies(potential: Potential, atoms: Atoms) -> tuple[np.ndarray, np.ndarray]:
    """(n_atoms,) eV each atom's energy, and (n_atoms,) eV the same less its element's reference energy."""
    potential = copy.deepcopy(potential).double().eval()  # float64 without changing the caller's model
    graph = atoms_to_graph(atoms, potential.cutoff, dtype=torch.float64)
    with torch.no_grad():
        energies = potential.site_energies(graph).mean(0)
        references = potential.self_energies[potential.species_of(graph.numbers)]
    return energies.numpy(), (energies - references).numpy()


def plot_site_energies(atoms: Atoms, relative: np.ndarray, path: Path, title: str = "") -> None:
    """Bar per atom (labelled by element and index) of its energy relative to the element's reference."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    figure, axis = plt.subplots(figsize=(max(5.0, 0.25 * len(atoms)), 3.8))
    colours = ["tab:blue" if value < 0 else "tab:red" for value in relative]
    axis.bar(range(len(atoms)), relative, color=colours)
    axis.set_xticks(range(len(atoms)), [f"{s}{k}" for k, s in enumerate(atoms.get_chemical_symbols())],
                    rotation=90, fontsize=7)
    axis.axhline(0, color="k", lw=0.6)
    axis.set_ylabel("site energy − element reference (eV)")
    axis.set_title(title or atoms.get_chemical_formula())
    figure.tight_layout()
    figure.savefig(path, dpi=150)
    plt.close(figure)
