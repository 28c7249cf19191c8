"""The one place where units are converted.

Public units in esml are ASE's: energy eV, length Å, time fs, charge e, dipole e·Å.
Atomic units (Hartree, Bohr) live only inside ``qm/``, ``functionals/`` and ``qmc/``
and are converted at their edge with these constants. All of them come from ASE's
CODATA set, so esml never holds two values of one constant.
"""

from ase import units as _ase

HARTREE_TO_EV: float = _ase.Hartree
EV_TO_HARTREE: float = 1.0 / _ase.Hartree
BOHR_TO_ANGSTROM: float = _ase.Bohr
ANGSTROM_TO_BOHR: float = 1.0 / _ase.Bohr
HARTREE_PER_BOHR_TO_EV_PER_ANGSTROM: float = _ase.Hartree / _ase.Bohr
KCAL_PER_MOL_TO_EV: float = _ase.kcal / _ase.mol
DEBYE_TO_E_ANGSTROM: float = _ase.Debye
HARTREE_TO_KCAL_PER_MOL: float = _ase.Hartree / (_ase.kcal / _ase.mol)
AMU_PER_CUBIC_ANGSTROM_TO_G_PER_CM3: float = _ase._amu * 1e3 / 1e-24  # kg → g, Å³ → cm³
