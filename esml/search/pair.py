"""Lennard-Jones and Morse clusters: every pair, no cutoff, as a compiled function and as an ASE calculator.

ASE's own ``LennardJones`` and ``MorsePotential`` go through a neighbour list and shift the energy
at their cutoff. A basin-hopping run makes millions of calls on clusters of at most a few hundred
atoms, where ASE's take 3.0 ms per call at 38 atoms and :func:`evaluate` 21 µs (numba; measured in
benchmarks/search_lj.py), and the Cambridge Cluster Database's energies hold only without a cutoff.
"""

from __future__ import annotations

from dataclasses import dataclass

import numba
import numpy as np
from ase.calculators.calculator import Calculator, all_changes

_LJ, _MORSE = 0, 1


@dataclass(frozen=True)
class LennardJones:
    """4ε[(σ/r)¹² − (σ/r)⁶]; with ε = 1 eV and σ = 1 Å the energies are the Cambridge Cluster Database's in units of ε."""

    epsilon: float = 1.0
    sigma: float = 1.0

    @property
    def kernel(self) -> tuple[int, float, float, float]:
        return _LJ, self.epsilon, self.sigma, 0.0


@dataclass(frozen=True)
class Morse:
    """ε e^{ρ(1 − r/r₀)} [e^{ρ(1 − r/r₀)} − 2]: the Morse clusters of Doye and Wales; ρ = 6 is the usual range."""

    epsilon: float = 1.0
    r0: float = 1.0
    rho: float = 6.0

    @property
    def kernel(self) -> tuple[int, float, float, float]:
        return _MORSE, self.epsilon, self.r0, self.rho


PAIR_POTENTIALS = {"lj": LennardJones, "morse": Morse}


@numba.njit(cache=True)
def _pair_sums(positions, kind, epsilon, length, rho):
    n = positions.shape[0]
    forces = np.zeros((n, 3))
    energies = np.zeros(n)
    for i in range(n):
        for j in range(i + 1, n):
            dx = positions[j, 0] - positions[i, 0]
            dy = positions[j, 1] - positions[i, 1]
            dz = positions[j, 2] - positions[i, 2]
            r = np.sqrt(dx * dx + dy * dy + dz * dz)
            if kind == _LJ:
                s6 = (length / r) ** 6
                energy = 4 * epsilon * (s6 * s6 - s6)
                slope = 4 * epsilon * (6 * s6 - 12 * s6 * s6) / r
            else:
                e = np.exp(rho * (1 - r / length))
                energy = epsilon * e * (e - 2)
                slope = -2 * epsilon * rho / length * e * (e - 1)
            energies[i] += 0.5 * energy
            energies[j] += 0.5 * energy
            g = slope / r  # g > 0 (attraction) pulls i towards j
            forces[i, 0] += g * dx
            forces[i, 1] += g * dy
            forces[i, 2] += g * dz
            forces[j, 0] -= g * dx
            forces[j, 1] -= g * dy
            forces[j, 2] -= g * dz
    return energies, forces


def evaluate(potential: LennardJones | Morse, positions: np.ndarray) -> tuple[float, np.ndarray, np.ndarray]:
    """Energy (eV), forces (n, 3) in eV/Å and per-atom energies (n,), half of each pair to each atom."""
    energies, forces = _pair_sums(np.ascontiguousarray(positions, dtype=np.float64), *potential.kernel)
    return float(energies.sum()), forces, energies


class PairCalculator(Calculator):
    """An ASE calculator for a pair potential, for ``esml md``, ``optimize`` or any ASE tool."""

    implemented_properties = ["energy", "free_energy", "energies", "forces"]

    def __init__(self, potential: LennardJones | Morse, **kwargs):
        super().__init__(**kwargs)
        self.potential = potential

    def calculate(self, atoms=None, properties=("energy",), system_changes=all_changes):
        super().calculate(atoms, properties, system_changes)
        energy, forces, energies = evaluate(self.potential, self.atoms.positions)
        self.results = {"energy": energy, "free_energy": energy, "energies": energies, "forces": forces}


@numba.njit(cache=True)
def _relax(positions, kind, epsilon, length, rho, fmax, max_steps, max_move):
    """L-BFGS (Nocedal and Wright, Algorithm 7.4; ten pairs remembered) with a backtracking Armijo
    line search and no atom moved farther than ``max_move`` per step, all compiled: SciPy's driver
    costs ~90 µs per evaluation where the Lennard-Jones evaluation itself costs ~12 µs at 38 atoms."""
    memory = 10
    x = positions.ravel().copy()
    n = x.size
    s_history = np.zeros((memory, n))
    y_history = np.zeros((memory, n))
    rho_history = np.zeros(memory)
    alpha = np.zeros(memory)
    energies, forces = _pair_sums(x.reshape(-1, 3), kind, epsilon, length, rho)
    energy = energies.sum()
    gradient = -forces.ravel()
    evaluations = 1
    stored = 0
    for _ in range(max_steps):
        if np.abs(gradient).max() < fmax:
            break
        q = gradient.copy()
        for k in range(stored - 1, -1, -1):
            alpha[k] = rho_history[k] * (s_history[k] @ q)
            q -= alpha[k] * y_history[k]
        if stored > 0:
            q *= (s_history[stored - 1] @ y_history[stored - 1]) / (y_history[stored - 1] @ y_history[stored - 1])
        else:
            q *= 0.01
        for k in range(stored):
            beta = rho_history[k] * (y_history[k] @ q)
            q += s_history[k] * (alpha[k] - beta)
        direction = -q
        slope = direction @ gradient
        if slope >= 0:  # not downhill: forget the curvature pairs and go down the gradient
            stored = 0
            direction = -0.01 * gradient
            slope = direction @ gradient
        longest = np.sqrt((direction.reshape(-1, 3) ** 2).sum(axis=1).max())
        if longest > max_move:
            direction *= max_move / longest
            slope *= max_move / longest
        step = 1.0
        while True:
            trial = x + step * direction
            trial_energies, trial_forces = _pair_sums(trial.reshape(-1, 3), kind, epsilon, length, rho)
            evaluations += 1
            trial_energy = trial_energies.sum()
            if trial_energy <= energy + 1e-4 * step * slope or step < 1e-6:
                break
            step *= 0.5
        if step < 1e-6 and trial_energy > energy:
            break  # no lower point along any step: as converged as the numbers allow
        trial_gradient = -trial_forces.ravel()
        s = trial - x
        y = trial_gradient - gradient
        sy = s @ y
        if sy > 1e-12:
            if stored == memory:
                s_history[:-1] = s_history[1:]
                y_history[:-1] = y_history[1:]
                rho_history[:-1] = rho_history[1:]
                stored -= 1
            s_history[stored] = s
            y_history[stored] = y
            rho_history[stored] = 1.0 / sy
            stored += 1
        x, energy, gradient, energies = trial, trial_energy, trial_gradient, trial_energies
    return x.reshape(-1, 3), energy, energies, evaluations


def relax(potential: LennardJones | Morse, positions: np.ndarray, fmax: float, max_steps: int,
          max_move: float = 0.2) -> tuple[np.ndarray, float, np.ndarray, int]:
    """The local minimum below ``positions`` (Å) until no force component exceeds ``fmax`` eV/Å:
    positions, energy (eV), per-atom energies and the evaluations it took."""
    x, energy, energies, evaluations = _relax(np.ascontiguousarray(positions, dtype=np.float64), *potential.kernel,
                                              fmax, max_steps, max_move)
    return x, float(energy), energies, int(evaluations)
