"""A reference calculation through esml: energy, forces, dipole of water with B3LYP-D3(BJ)."""

from ase.build import molecule

from esml.qm import calculator

water = molecule("H2O")
water.calc = calculator("b3lyp-d3bj/def2-svp", density_fit=True)
print(f"energy  {water.get_potential_energy():.6f} eV")
print("forces (eV/Å)\n", water.get_forces())
print("dipole (e·Å)", water.get_dipole_moment())
