"""Reference quantum engines (PySCF, tblite) behind one interface, and labeling at scale."""

from esml.methods import MethodSpec, parse_method
from esml.qm.engine import ReferenceCalculator, calculator, compute

__all__ = ["MethodSpec", "ReferenceCalculator", "calculator", "compute", "parse_method"]
