"""Machine-learned potentials: ANI-style (``ani``), PaiNN (``painn``), GP (``gp``), CGCNN (``cgcnn``,
crystals), ensembles and Δ-models on a reference baseline.

Every model is a :class:`esml.potential.Potential`; :class:`esml.calculator.PotentialCalculator`
makes any of them an ASE calculator and :func:`load_calculator` one from a saved file.
"""

from esml.potentials.ani import ANIPotential
from esml.potentials.cgcnn import CGCNNPotential
from esml.potentials.ensemble import Ensemble, ensemble_of
from esml.potentials.files import FAMILIES, build, load, load_calculator, save
from esml.potentials.painn import PaiNNPotential

__all__ = [
    "ANIPotential", "CGCNNPotential", "Ensemble", "FAMILIES", "PaiNNPotential",
    "build", "ensemble_of", "load", "load_calculator", "save",
]
