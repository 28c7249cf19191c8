"""Self-consistent evaluation of a learned functional beside PBE and B3LYP, on the same molecules,
basis and numerical settings (Hartree inside, kcal/mol in the report).

Scores: atomisation energies against the CCSD(T)/CBS references (and, for the references'
sake, against experiment), reaction energies built from the same species, vertical ionisation
potentials (eV) of the molecules' atoms and of those molecules that have a cation reference, the
one-electron systems that expose delocalisation error (the H atom and H₂⁺ at 5 Å, both exact), and
how the SCFs went (converged, cycles, seconds).
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from esml.functionals.model import LearnedXC
from esml.functionals.reference import ATOM_MULTIPLICITY, CATION, g2_atoms
from esml.functionals.scf import molecule_of, solve
from esml.functionals.training_set import (
    EVALUATION_BOND_H2_PLUS,
    composition,
    exact_one_electron_energy,
    experimental_atomization_kcal,
    h2_plus,
    reference_atomization_kcal,
    references,
)
from esml.units import HARTREE_TO_EV, HARTREE_TO_KCAL_PER_MOL

BASELINES = ("pbe", "b3lyp")
# Reactions among the G2 species ({species: stoichiometry}, negative on the left); one is scored
# when every species in it is evaluated.
REACTIONS = {
    "cyclopropene -> propyne": {"C3H4_C2v": -1, "C3H4_C3v": 1},
    "allene -> propyne": {"C3H4_D2d": -1, "C3H4_C3v": 1},
    "3 O2 -> 2 O3": {"O2": -3, "O3": 2},
    "CH3 + NH2 -> CH3NH2": {"CH3": -1, "NH2": -1, "H3CNH2": 1},
    "propene + H -> propyl": {"C3H6_Cs": -1, "H": -1, "C3H7": 1},
    "CH4 -> CH3 + H": {"CH4": -1, "CH3": 1, "H": 1},
    "HCOOH -> CO + H2O": {"HCOOH": -1, "CO": 1, "H2O": 1},
    "CH3OH -> H2CO + H2": {"CH3OH": -1, "H2CO": 1, "H2": 1},
}


def species_needed(molecules: list[str]) -> list[str]:
    """The molecules, their atoms (and H, for the one-electron errors) and the species of every
    reaction they complete."""
    names = set(molecules) | {"H"} | {symbol for symbols in composition(molecules).values() for symbol in symbols}
    for reaction in REACTIONS.values():
        if set(reaction) - set(ATOM_MULTIPLICITY) <= set(molecules):
            names |= set(reaction)
    return sorted(names | {name + CATION for name in ionized(names)})


def ionized(names) -> list[str]:
    """Those of ``names`` (molecules and atoms) whose cation has a reference energy; not H, whose
    cation has no electron."""
    species = references()["species"]
    return sorted(name for name in names if name + CATION in species)


def scores(energies: dict[str, float], molecules: list[str]) -> dict:
    """Errors (kcal/mol) of one functional's energies (Ha)."""
    reference = reference_atomization_kcal(molecules)
    experiment = experimental_atomization_kcal(molecules)
    predicted = {name: (sum(energies[s] for s in composition([name])[name]) - energies[name]) * HARTREE_TO_KCAL_PER_MOL
                 for name in molecules}
    errors = np.array([predicted[name] - reference[name] for name in molecules])
    reactions = {label: sum(n * energies[s] for s, n in reaction.items()) * HARTREE_TO_KCAL_PER_MOL
                 for label, reaction in REACTIONS.items() if set(reaction) <= set(energies)}
    reaction_errors = [reactions[label] - reaction_energy_reference(REACTIONS[label]) for label in reactions]
    ionization = {name: (energies[name + CATION] - energies[name]) * HARTREE_TO_EV for name in ionized(energies)}
    reference_ionization = reference_ionization_ev(list(ionization))
    ionization_errors = [ionization[name] - reference_ionization[name] for name in ionization]
    return {"mae_atomization_kcal": float(np.abs(errors).mean()),
            "max_abs_atomization_kcal": float(np.abs(errors).max()),
            "mean_signed_atomization_kcal": float(errors.mean()),
            "mae_vs_experiment_kcal": float(np.mean([abs(predicted[n] - experiment[n]) for n in molecules])),
            "mae_reaction_kcal": float(np.mean(np.abs(reaction_errors))) if reaction_errors else None,
            "atomization_kcal": predicted, "reactions_kcal": reactions,
            "mae_ionization_ev": float(np.mean(np.abs(ionization_errors))) if ionization_errors else None,
            "max_abs_ionization_ev": float(np.max(np.abs(ionization_errors))) if ionization_errors else None,
            "ionization_ev": ionization}


def reaction_energy_reference(reaction: dict[str, int]) -> float:
    species = references()["species"]
    return sum(n * species[s]["energy_ha"] for s, n in reaction.items()) * HARTREE_TO_KCAL_PER_MOL


def reference_ionization_ev(names: list[str]) -> dict[str, float]:
    """Vertical ionisation potentials (eV) from the CCSD(T)/CBS energies of each species and its cation."""
    species = references()["species"]
    return {name: (species[name + CATION]["energy_ha"] - species[name]["energy_ha"]) * HARTREE_TO_EV for name in names}


def one_electron_errors(functional: LearnedXC | str, basis: str, hydrogen_energy: float) -> dict:
    """Errors (kcal/mol) against the exact energies of the H atom (its energy given, from the
    atoms every evaluation computes) and of H₂⁺ at 5 Å."""
    stretched = h2_plus(EVALUATION_BOND_H2_PLUS)
    mean_field, _ = solve(molecule_of(stretched, basis), functional)
    energies = {"H": hydrogen_energy, stretched.info["name"]: mean_field.e_tot}
    return {name: (energy - exact_one_electron_energy(name)) * HARTREE_TO_KCAL_PER_MOL for name, energy in energies.items()}


def evaluate(model: LearnedXC, molecules: list[str], basis: str = "def2-tzvp", baselines=BASELINES,
             on_species: Callable[[str, str], None] = lambda functional, species: None) -> dict:
    """Self-consistent scores of ``model`` (labelled "model") and of each baseline."""
    needed = species_needed(molecules)
    report = {"basis": basis, "molecules": molecules, "species": needed, "functionals": {},
              "reference_atomization_kcal": reference_atomization_kcal(molecules),
              "experimental_atomization_kcal": experimental_atomization_kcal(molecules),
              "reference_reactions_kcal": {label: reaction_energy_reference(reaction)
                                           for label, reaction in REACTIONS.items() if set(reaction) <= set(needed)},
              "reference_ionization_ev": reference_ionization_ev(ionized(needed)),
              "experimental_ionization_ev": {name: references()["species"][name + CATION]["experimental_ie_ev"]
                                             for name in ionized(needed)}}
    for label, functional in [("model", model), *((name, name) for name in baselines)]:
        energies, runs = {}, {}
        for name in needed:
            mean_field, runs[name] = solve(molecule_of(g2_atoms(name), basis), functional)
            energies[name] = float(mean_field.e_tot)
            on_species(label, name)
        report["functionals"][label] = {
            **scores(energies, molecules), **{f"{k}_error_kcal": v for k, v in one_electron_errors(functional, basis, energies["H"]).items()},
            "scf_converged_fraction": float(np.mean([run["converged"] and not run["second_order"] for run in runs.values()])),
            "scf_converged_at_all_fraction": float(np.mean([run["converged"] for run in runs.values()])),
            "scf_second_order": sorted(name for name, run in runs.items() if run["second_order"]),
            "scf_seconds": float(sum(run["seconds"] for run in runs.values())),
            "scf_cycles": int(sum(run["cycles"] for run in runs.values())), "energies_ha": energies}
    return report
