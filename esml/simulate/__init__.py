"""Molecular dynamics, optimisation and vibrations through ASE, for any calculator."""
