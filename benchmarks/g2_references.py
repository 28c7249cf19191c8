"""Compute the focal-point CCSD(T)/CBS reference energies that esml's functionals train on (issue #8).

    python benchmarks/g2_references.py            # all 59 molecules, 5 atoms and 13 cations, resumes
    python benchmarks/g2_references.py --only H2O,CH4,CH4+

Each finished species is written at once to esml/functionals/data/g2_references.json (the file
ships with esml: `esml xc evaluate` scores against it), so an interrupted run loses at most one
species. The whole set takes one to two hours on 2 cores, most of it the CCSD(T)/cc-pVTZ of the
three-heavy-atom molecules (propane: 6 minutes on 2 threads; its radicals, unrestricted, about
three times that). Two processes may share the work: give the second ``--only`` and ``--out``,
then merge its species into the shipped file.
"""

from __future__ import annotations

import argparse
import json
import sys
from datetime import date
from pathlib import Path

from pyscf import __version__ as pyscf_version

from esml.functionals.reference import (
    ATOM_MULTIPLICITY,
    CATION,
    CATION_MULTIPLICITY,
    experimental_atomization_kcal,
    experimental_ionization_ev,
    focal_point_energy,
    g2_atoms,
    molecule_names,
)
from esml.functionals.training_set import REFERENCE_FILE


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--only", help="comma-separated G2 names")
    parser.add_argument("--out", type=Path, default=REFERENCE_FILE, help="another file, to split the work between processes")
    args = parser.parse_args()
    cations = [name + CATION for name in CATION_MULTIPLICITY]
    names = args.only.split(",") if args.only else [*ATOM_MULTIPLICITY, *molecule_names(), *cations]
    table = json.loads(args.out.read_text()) if args.out.exists() else {"species": {}}
    table.update(method="HF/cc-pVQZ + MP2/CBS[TZ,QZ] + (CCSD(T)-MP2)/cc-pVTZ, frozen core",
                 code=f"pyscf {pyscf_version}", command="python " + " ".join(sys.argv))
    for name in names:
        if name in table["species"]:
            continue
        atoms = g2_atoms(name)
        entry = {"symbols": atoms.get_chemical_symbols(), "positions_angstrom": atoms.positions.round(6).tolist(),
                 "multiplicity": atoms.info["multiplicity"], **focal_point_energy(atoms), "date": date.today().isoformat()}
        if name in cations:
            entry |= {"charge": 1, "experimental_ie_ev": experimental_ionization_ev(name.removesuffix(CATION))}
        elif name not in ATOM_MULTIPLICITY:
            entry["experimental_de_kcal"] = experimental_atomization_kcal(name)
        table["species"][name] = entry
        args.out.write_text(json.dumps(table, indent=1) + "\n")
        print(f"{name}: {entry['energy_ha']:.6f} Ha in {entry['seconds']:.0f} s", flush=True)


if __name__ == "__main__":
    main()
