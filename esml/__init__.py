"""esml: machine learning for electronic structure.

Structures are ``ase.Atoms``; public units are eV, Å, fs and e (see :mod:`esml.units`).
"""

__version__ = "0.1.0"
