"""One entry point from a method string to an ASE calculator, and the pure function behind it."""

from __future__ import annotations

import time
from collections.abc import Iterable

from ase import Atoms
from ase.calculators.calculator import Calculator, PropertyNotImplementedError, all_changes

from esml.errors import MethodError
from esml.methods import MethodSpec, parse_method, parse_reference
from esml.qm.cache import LabelCache, cache_key
from esml.qm.xtb import XTBSession
from esml.structures import charge_and_multiplicity, check_charge_and_spin, check_positions, describe


def compute(
    atoms: Atoms,
    spec: MethodSpec,
    charge: int | None = None,
    multiplicity: int | None = None,
    forces: bool = True,
    name: str | None = None,
    threads: int | None = None,
    xtb_session: XTBSession | None = None,
) -> dict:
    """Reference properties of one structure in ASE units.

    Returns a dict with ``energy`` (eV) and, where the method has them, ``forces``
    ((n_atoms, 3) eV/Å), ``dipole`` ((3,) e·Å), ``charges`` ((n_atoms,) e) and, for
    periodic xTB, ``stress`` ((6,) eV/Å³, Voigt). An ``xtb_session`` carries tblite's state
    from one step of a trajectory to the next. Raises :class:`esml.errors.EsmlError`
    subclasses naming the structure when it cannot be computed.
    """
    name = name or describe(atoms)
    check_positions(atoms, name)
    charge, multiplicity = charge_and_multiplicity(atoms, charge, multiplicity)
    check_charge_and_spin(atoms, charge, multiplicity, name)
    if spec.engine == "tblite":
        from esml.qm.xtb import compute_xtb

        return compute_xtb(atoms, spec, charge, multiplicity, name, xtb_session)
    from esml.qm.pyscf_engine import compute_pyscf

    return compute_pyscf(atoms, spec, charge, multiplicity, name, forces=forces, threads=threads)


class ReferenceCalculator(Calculator):
    """ASE calculator for any esml reference method (results in eV, Å, e). With ``restart``, an
    xTB calculation starts from the previous one's wavefunction while the system stays the same:
    30 % faster along a trajectory (a Δ-model's baseline), forces within the SCF tolerance
    (~1e-3 eV/Å), too loose for finite differences, hence off by default. With a ``cache`` (a
    :class:`~esml.qm.cache.LabelCache`), every result is kept there and a structure computed
    before is read back: an interrupted finite-difference scan resumes where it stopped."""

    implemented_properties = ["energy", "free_energy", "forces", "dipole", "charges", "stress"]

    def __init__(self, spec: MethodSpec, charge: int | None = None, multiplicity: int | None = None,
                 threads: int | None = None, restart: bool = False, cache: LabelCache | None = None):
        super().__init__()
        self.spec = spec
        self.charge = charge
        self.multiplicity = multiplicity
        self.threads = threads
        self.xtb_session = XTBSession() if restart and spec.engine == "tblite" else None
        self.cache = cache

    def calculate(self, atoms=None, properties=("energy",), system_changes=all_changes):
        super().calculate(atoms, properties, system_changes)
        # Forces cost a gradient; compute them only when asked (energy-only MD/scans stay cheap).
        want_forces = "forces" in properties
        key = None
        if self.cache is not None:
            charge, multiplicity = charge_and_multiplicity(self.atoms, self.charge, self.multiplicity)
            key = cache_key(self.atoms, self.spec, charge, multiplicity, want_forces)
        results = self.cache.get_many([key]).get(key) if key else None
        if results is None:
            start = time.perf_counter()
            results = compute(self.atoms, self.spec, self.charge, self.multiplicity, forces=want_forces, threads=self.threads,
                              xtb_session=self.xtb_session)
            if key:
                self.cache.put(key, self.spec.label, results, time.perf_counter() - start)
        results["free_energy"] = results["energy"]
        missing = [p for p in properties if p not in results]
        if missing:
            raise PropertyNotImplementedError(f"{self.spec.label} does not provide {', '.join(missing)} for this structure")
        self.results = results


def calculator(method: str, charge: int | None = None, multiplicity: int | None = None, threads: int | None = None, **settings) -> ReferenceCalculator:
    """An ASE calculator for ``method`` ('gfn2-xtb', 'b3lyp/def2-svp', 'ccsd(t)/cc-pvdz', ...).

    ``settings`` are :class:`MethodSpec` fields (density_fit, dispersion, max_scf_cycles, ...).
    Charge and multiplicity default to ``atoms.info`` and then to neutral, lowest spin.
    """
    return ReferenceCalculator(parse_method(method, **settings), charge, multiplicity, threads)


def reference_calculator(method: str, charge: int | None = None, multiplicity: int | None = None,
                         restart: bool = False) -> ReferenceCalculator:
    """The calculator of a reference a model learns or corrects (:func:`esml.methods.parse_reference`:
    density fitting where it applies)."""
    return ReferenceCalculator(parse_reference(method), charge, multiplicity, restart=restart)


def baseline_calculator(method: str, charge: int | None = None, multiplicity: int | None = None) -> ReferenceCalculator:
    """A Δ-model's baseline, evaluated once per MD step: restarted from the previous wavefunction.
    Registered as the ``esml.baselines`` entry point, through which a loaded model file gets it."""
    return reference_calculator(method, charge, multiplicity, restart=True)


def validate_method(spec: MethodSpec, symbols: Iterable[str] = (), periodic: bool = False) -> None:
    """Fail before any work on a method the engine cannot run: an unknown functional, a basis
    PySCF does not know or that lacks one of ``symbols``, or a PySCF method for a ``periodic``
    structure; a learned functional's file was found by parse_method already."""
    if spec.engine != "pyscf":
        return
    if periodic:
        raise MethodError(f"{spec.label}: the structure is periodic and PySCF methods here are molecular; use gfn2-xtb for a cell")
    from esml.qm.pyscf_engine import check_basis, check_functional

    if spec.is_dft and not spec.is_learned:
        check_functional(spec.name)
    check_basis(spec.basis, symbols)
