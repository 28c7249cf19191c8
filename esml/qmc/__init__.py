"""Neural-network wavefunctions and variational Monte Carlo (Hartree and Bohr inside)."""
