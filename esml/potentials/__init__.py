"""Machine-learned potentials: ANI-style (``ani``), PaiNN (``painn``), CGCNN (``cgcnn``, crystals) and ensembles.

Every model is a :class:`Potential`; :func:`esml.calculator.calculator` makes any of them an
ASE calculator, and :func:`predict` gives energies, forces and stress for batches.
"""

from esml.potentials.ani import ANIPotential
from esml.potentials.base import Potential, Prediction, predict
from esml.potentials.cgcnn import CGCNNPotential
from esml.potentials.ensemble import Ensemble
from esml.potentials.files import FAMILIES, build, load, save
from esml.potentials.graph import AtomicGraph, atoms_to_graph, batch_graphs
from esml.potentials.painn import PaiNNPotential

__all__ = [
    "ANIPotential", "AtomicGraph", "CGCNNPotential", "Ensemble", "FAMILIES", "PaiNNPotential", "Potential", "Prediction",
    "atoms_to_graph", "batch_graphs", "build", "load", "predict", "save",
]
