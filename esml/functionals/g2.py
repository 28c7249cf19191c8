"""The G2 reference set of esml's learned functionals, offered to the store as a bundled data set."""

from __future__ import annotations

from collections.abc import Iterator

from esml import units
from esml.data.bundled import BundledSet
from esml.data.records import Record
from esml.functionals.reference import CATION, g2_atoms
from esml.functionals.training_set import references, split

HA = units.HARTREE_TO_EV


def g2_records(limit: int | None = None) -> Iterator[Record]:
    """The 59 G2 molecules, 5 atoms and 13 cations that esml's learned functionals train and are
    scored on, with their focal-point CCSD(T)/CBS energies; the split is
    esml.functionals.training_set's (held out = test; a cation goes with its neutral)."""
    held_out = set(split()["heldout"])
    table = references()
    for n, (name, entry) in enumerate(table["species"].items()):
        if limit is not None and n >= limit:
            return
        atoms = g2_atoms(name)
        properties = {"g2_name": name, "split": "test" if name.removesuffix(CATION) in held_out else "train"}
        if "experimental_de_kcal" in entry:
            properties["experimental_atomization_energy"] = entry["experimental_de_kcal"] * units.KCAL_PER_MOL_TO_EV
        yield Record(atoms=atoms, code="PySCF", code_version=table["code"], method="ccsd(t)/cbs-focal-point",
                     basis="cc-pVTZ/cc-pVQZ", charge=atoms.info["charge"], multiplicity=atoms.info["multiplicity"],
                     settings={"protocol": table["method"]}, energy=entry["energy_ha"] * HA, properties=properties,
                     original_units={"energy": "Hartree"})



def g2_set() -> BundledSet:
    return BundledSet(g2_records, "G2 (H, C, N, O, F; <= 3 heavy atoms): CCSD(T)/CBS energies for learned "
                                  "functionals; split as esml.functionals.training_set (held out = test)",
                      size=len(references()["species"]), own_split=True)
