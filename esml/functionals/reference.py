"""Reference atomisation energies of small molecules, for training and testing functionals.

The molecules: those of ASE's G2 tables made of H, C, N, O and F with at most three heavy
atoms (59, closed and open shell), at the G2 geometries, and their atoms. The reference energy
of each is a focal-point CCSD(T)/CBS estimate with frozen 1s cores:

    E = E_HF/cc-pVQZ + E_c,MP2/CBS[TZ,QZ] + (E_c,CCSD(T) - E_c,MP2)/cc-pVTZ

HF and MP2 at cc-pVQZ use density fitting; the MP2 correlation energy is extrapolated as X^-3
(Helgaker 1997); the coupled-cluster increment is taken where it converges fast, at cc-pVTZ.
Restricted for singlets, unrestricted otherwise. Beside it, the experimental De from the same
tables (ΔHf at 298 K taken to 0 K with the tabulated thermal corrections, plus the zero-point
energy), which checks the reference rather than training anything.

Ionisation potentials are scored on the cations of the atoms and of the held-out molecules
whose ionisation energy ASE's tables hold, each at its neutral's geometry: the reference is
the vertical ΔCCSD(T)/CBS of the same focal-point recipe. The tables' (adiabatic) values check it
on the atoms, where vertical and adiabatic are the same.
"""

from __future__ import annotations

import time

from ase import Atoms
from ase.build import molecule
from ase.data import g2_1, g2_2

from esml.units import HARTREE_TO_KCAL_PER_MOL

ELEMENTS = ("H", "C", "N", "O", "F")
MAX_HEAVY_ATOMS = 3
ATOM_MULTIPLICITY = {"H": 2, "C": 3, "N": 4, "O": 3, "F": 2}
TABLES = {**g2_1.data, **g2_2.data}
# The ground-state spin multiplicity of each cation scored (its ionisation energy is in TABLES)
CATION_MULTIPLICITY = {"C": 2, "N": 3, "O": 4, "F": 3, "CH": 1, "CH3": 1, "CH4": 2, "NH2": 3, "CO": 2, "N2": 2,
                       "HCN": 2, "O2": 2, "CH3OH": 2}
CATION = "+"  # a cation's name: its neutral's, then this


def molecule_names() -> list[str]:
    """G2 molecules of H, C, N, O, F with at most three heavy atoms, smallest first."""
    names = [name for name, entry in TABLES.items() if "ZPE" in entry and _fits(g2_atoms(name))]
    return sorted(names, key=lambda name: (len(g2_atoms(name)), name))


def _fits(atoms: Atoms) -> bool:
    symbols = atoms.get_chemical_symbols()
    return set(symbols) <= set(ELEMENTS) and sum(s != "H" for s in symbols) <= MAX_HEAVY_ATOMS


def g2_atoms(name: str) -> Atoms:
    """A G2 molecule or atom, or the cation of one (``"CH4+"``, at the neutral's geometry), with
    ``info['charge']`` and ``info['multiplicity']``."""
    if name.endswith(CATION):
        neutral = name.removesuffix(CATION)
        atoms = g2_atoms(neutral)
        atoms.info.update(name=name, charge=1, multiplicity=CATION_MULTIPLICITY[neutral])
        return atoms
    if name in ATOM_MULTIPLICITY:
        atoms = Atoms(name)
        multiplicity = ATOM_MULTIPLICITY[name]
    else:
        atoms = molecule(name)
        multiplicity = round(abs(atoms.get_initial_magnetic_moments().sum())) + 1
    atoms.info.update(name=name, charge=0, multiplicity=multiplicity)
    return atoms


def experimental_atomization_kcal(name: str) -> float:
    """Experimental De (kcal/mol): D0 from 0 K heats of formation, plus the zero-point energy."""
    entry = TABLES[name]
    symbols = g2_atoms(name).get_chemical_symbols()
    # The molecule's 298 K enthalpy to 0 K: its own thermal correction out, the elements' in.
    formation_0k = entry["enthalpy"] - entry["thermal correction"] + sum(
        TABLES[s]["thermal correction"] for s in symbols)
    d0 = sum(TABLES[s]["enthalpy"] for s in symbols) - formation_0k
    return d0 + entry["ZPE"]


def experimental_ionization_ev(name: str) -> float:
    """The tables' ionisation energy (eV) of a molecule or atom: adiabatic."""
    return float(TABLES[name]["ionization energy"])


def focal_point_energy(atoms: Atoms) -> dict:
    """The reference energy (Ha) of a molecule or atom and its parts, with the seconds it took."""
    from pyscf import cc, mp

    began = time.perf_counter()
    frozen = sum(z > 2 for z in atoms.numbers)
    quadruple = _hartree_fock(atoms, "cc-pvqz", density_fit=True)
    triple_df = _hartree_fock(atoms, "cc-pvtz", density_fit=True)
    triple = _hartree_fock(atoms, "cc-pvtz", density_fit=False)
    mp2_q, mp2_t = (_df_mp2(mean_field, frozen) for mean_field in (quadruple, triple_df))
    mp2_cbs = (4**3 * mp2_q - 3**3 * mp2_t) / (4**3 - 3**3)
    coupled = cc.CCSD(triple, frozen=frozen or None).run(conv_tol=1e-9)
    ccsd_t = coupled.e_corr + coupled.ccsd_t()
    mp2 = mp.MP2(triple, frozen=frozen or None).run().e_corr
    parts = {"hf_qz": quadruple.e_tot, "mp2_corr_tz": mp2_t, "mp2_corr_qz": mp2_q, "mp2_corr_cbs": mp2_cbs,
             "ccsd_t_minus_mp2_tz": ccsd_t - mp2}
    return {"energy_ha": quadruple.e_tot + mp2_cbs + ccsd_t - mp2, **parts,
            "seconds": time.perf_counter() - began}


def _hartree_fock(atoms: Atoms, basis: str, density_fit: bool):
    from pyscf import scf

    from esml.functionals.scf import molecule_of

    mol = molecule_of(atoms, basis)
    mean_field = scf.RHF(mol) if mol.spin == 0 else scf.UHF(mol)
    if density_fit:
        mean_field = mean_field.density_fit()
    mean_field.conv_tol = 1e-10
    mean_field.kernel()
    if not mean_field.converged:
        mean_field = mean_field.newton().run()
    return mean_field


def _df_mp2(mean_field, frozen: int) -> float:
    from pyscf.mp import dfmp2, dfump2

    solver = dfmp2.DFMP2 if mean_field.mol.spin == 0 else dfump2.DFUMP2
    return solver(mean_field, frozen=frozen or None).run().e_corr


def atomization_kcal(energies: dict[str, float], name: str) -> float:
    """De (kcal/mol) of a molecule from energies (Ha) keyed by molecule and atom name."""
    symbols = g2_atoms(name).get_chemical_symbols()
    return (sum(energies[s] for s in symbols) - energies[name]) * HARTREE_TO_KCAL_PER_MOL
