"""Disordered quantum matter: the 3D Anderson model, its realisations probed by transfer matrices
(bars' Lyapunov exponents) or by level statistics, a network that learns localisation from
realisations far from the transition, and finite-size scaling of its output."""
