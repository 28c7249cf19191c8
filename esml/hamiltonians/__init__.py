"""Learned electronic structure: a Hamiltonian predicted from the geometry, which starts PySCF's
SCF near its answer (``esml.qm.calculator(method, initial_guess=...)``)."""
