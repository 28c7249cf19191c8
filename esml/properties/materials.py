"""Thermodynamic stability of compounds: formation energy and energy above the convex hull.

The hull is pymatgen's (``PhaseDiagram``); esml only turns (composition, total energy) pairs into
its entries, checks them, and ranks candidates by their distance to the hull built from the
reference compounds. Energies are eV for the whole composition as written (``Fe2O3``: two Fe,
three O), or eV/atom with ``per_atom=True``.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass

from esml.errors import EsmlError


class CompositionError(EsmlError):
    """A composition or energy that cannot enter a phase diagram."""


@dataclass(frozen=True)
class Stability:
    """formation_energy, e_above_hull: eV/atom; decomposition: the hull phases and their fractions."""

    formula: str
    formation_energy: float
    e_above_hull: float
    decomposition: dict[str, float]


def composition(formula: str):
    """A pymatgen Composition, or one line saying what is wrong with ``formula``."""
    from pymatgen.core import Composition, Element

    if not formula.strip():
        raise CompositionError("an empty formula; write formulas like Fe2O3")
    symbols = _symbols(formula)
    unknown = [s for s in symbols if not Element.is_valid_symbol(s)]
    if unknown:
        raise CompositionError(f"unknown element(s) {', '.join(unknown)} in {formula!r}; write formulas like Fe2O3")
    try:
        parsed = Composition(formula)
    except (ValueError, KeyError) as error:
        raise CompositionError(f"cannot read the formula {formula!r} ({error}); write formulas like Fe2O3") from None
    if parsed.num_atoms <= 0 or any(amount < 0 for amount in parsed.values()):
        raise CompositionError(f"the composition {formula!r} has no atoms; give positive amounts, e.g. Fe2O3")
    return parsed


def _symbols(formula: str) -> list[str]:
    return re.findall(r"[A-Z][a-z]*", formula) or [formula.strip()]


def entry(formula: str, energy: float, per_atom: bool = False, name: str | None = None):
    from pymatgen.analysis.phase_diagram import PDEntry

    parsed = composition(formula)
    if not math.isfinite(energy):
        raise CompositionError(f"the energy of {formula} is not a finite number")
    total = energy * parsed.num_atoms if per_atom else energy
    return PDEntry(parsed, total, name=name or formula)


def phase_diagram(references: list):
    """The convex hull of the reference entries; every element of them needs an elemental entry."""
    from pymatgen.analysis.phase_diagram import PhaseDiagram

    elements = {e for ref in references for e in ref.composition.elements}
    have = {ref.composition.elements[0] for ref in references if ref.composition.is_element}
    missing = sorted(str(e) for e in elements - have)
    if missing:
        raise CompositionError(f"no elemental reference for {', '.join(missing)}; add the energy of the pure "
                               "element(s) to the references")
    return PhaseDiagram(references)


def stability(diagram, candidate) -> Stability:
    """Formation energy and hull distance of ``candidate`` (which need not be on the diagram)."""
    outside = set(candidate.composition.elements) - set(diagram.elements)
    if outside:
        raise CompositionError(f"{candidate.name} contains {', '.join(sorted(map(str, outside)))}, "
                               "which no reference covers")
    decomposition, above = diagram.get_decomp_and_e_above_hull(candidate, allow_negative=True)
    return Stability(candidate.name, float(diagram.get_form_energy_per_atom(candidate)), float(above),
                     {d.name: float(f) for d, f in decomposition.items()})


def rank_by_hull(references: list, candidates: list) -> list[tuple[int, Stability]]:
    """(index into ``candidates``, its stability), from the most to the least stable (lowest energy
    above the references' hull)."""
    diagram = phase_diagram(references)
    ranked = [(k, stability(diagram, c)) for k, c in enumerate(candidates)]
    return sorted(ranked, key=lambda pair: pair[1].e_above_hull)
