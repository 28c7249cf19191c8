"""Anharmonic fundamentals by second-order vibrational perturbation theory (VPT2) on any surface.

The quartic force field in dimensionless normal coordinates q (V = ½ Σ ω q² + ⅙ Σ φ_ijk q q q +
1/24 Σ φ_ijkl q q q q, all in cm⁻¹) comes from finite differences of Hessians along the normal
modes, as in CFOUR and Gaussian: cubic φ_ijk from first differences, the semi-diagonal quartic
φ_iijj from second differences. The anharmonic constants χ are Mills' (Papoušek & Aliev, ch. 14;
Barone, JCP 122, 014108 (2005)), written as partial fractions so that each resonant denominator is
one term: a Fermi resonance (2ω_k ≈ ω_i, or ω_k + ω_l ≈ ω_i) found by Martin's test (JCP 103,
2589 (1995)) is removed from χ (deperturbed VPT2) and put back by diagonalising the fundamental
with its partners (generalised VPT2). Asymmetric and symmetric tops; linear molecules, whose
degenerate bends need ℓ-type terms, are refused.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass

import numpy as np
from ase import units
from ase.calculators.calculator import Calculator

from esml.errors import EsmlError
from esml.simulate.vibrations import NormalModes, Progress, second_derivatives
from esml.spectra.settings import VPT2Settings


@dataclass(frozen=True)
class QuarticForceField:
    """``wavenumbers`` ω (n,) cm⁻¹; ``cubic`` φ_ijk (n, n, n) cm⁻¹; ``quartic`` φ_iijj (n, n) cm⁻¹;
    ``coriolis`` ζ^α_ij (3, n, n) about the principal axes; ``rotational`` B_α (3,) cm⁻¹."""

    wavenumbers: np.ndarray
    cubic: np.ndarray
    quartic: np.ndarray
    coriolis: np.ndarray
    rotational: np.ndarray


def normal_lengths(wavenumbers: np.ndarray) -> np.ndarray:
    """The mass-weighted amplitude (Å·amu^½) of one unit of each dimensionless coordinate, √(ħ/ω)."""
    angular = 2 * np.pi * units._c * 100 * np.asarray(wavenumbers)
    return np.sqrt(units._hbar / angular / units._amu) * 1e10


def quartic_force_field(modes: NormalModes, hessian: np.ndarray, calculator: Calculator,
                        settings: VPT2Settings = VPT2Settings(), progress: Progress | None = None) -> QuarticForceField:
    """Cubic and semi-diagonal quartic constants from Hessians at ±``step`` along each mode;
    ``hessian`` is the Cartesian one (eV/Å²) at the minimum the modes came from."""
    check_minimum(modes)
    lengths = normal_lengths(modes.wavenumbers)
    along = modes.cartesian * lengths  # Cartesian Å per unit q, one column a mode

    def in_normal_coordinates(cartesian_hessian: np.ndarray) -> np.ndarray:
        return along.T @ cartesian_hessian @ along / units.invcm

    n = len(modes.wavenumbers)
    centre = in_normal_coordinates(hessian)
    cubic = np.empty((n, n, n))
    quartic = np.empty((n, n))
    for mode in range(n):
        sides = []
        for sign in (1, -1):
            displaced = modes.atoms.copy()
            displaced.positions = modes.atoms.positions + sign * settings.step * along[:, mode].reshape(-1, 3)
            sides.append(in_normal_coordinates(second_derivatives(displaced, calculator, settings.displacement).hessian))
            if progress:
                progress(2 * mode + (sign < 0) + 1, 2 * n)
        cubic[mode] = (sides[0] - sides[1]) / (2 * settings.step)
        quartic[mode] = np.diag(sides[0] + sides[1] - 2 * centre) / settings.step**2
    # each constant was found once per index it can be differentiated by: average them
    cubic = sum(np.transpose(cubic, order) for order in itertools.permutations(range(3))) / 6
    quartic = 0.5 * (quartic + quartic.T)
    coriolis, rotational = coriolis_constants(modes)
    return QuarticForceField(modes.wavenumbers.copy(), cubic, quartic, coriolis, rotational)


def check_minimum(modes: NormalModes) -> None:
    if modes.atoms.pbc.any():
        raise EsmlError("VPT2 here is for molecules; the structure is periodic")
    if len(modes.wavenumbers) == 3 * len(modes.atoms) - 5:
        raise EsmlError("VPT2 of a linear molecule needs the ℓ-type terms of its degenerate bends, which esml does not have")
    if modes.wavenumbers.min() <= 0:
        raise EsmlError(f"the structure has an imaginary mode ({modes.wavenumbers.min():.0f} cm⁻¹): it is not a minimum; "
                        "optimise it first (esml optimize, or drop --no-optimize)")


def coriolis_constants(modes: NormalModes) -> tuple[np.ndarray, np.ndarray]:
    """ζ^α_ij = Σ_atoms (l_i × l_j)·e_α over the principal axes e_α, and B_α = h/(8π²cI_α) in cm⁻¹."""
    moments, axes = modes.atoms.get_moments_of_inertia(vectors=True)
    per_atom = modes.vectors.reshape(len(modes.atoms), 3, -1)
    crossed = np.einsum("xyz,ayi,azj->xij", levi_civita(), per_atom, per_atom)  # Σ_a l_i × l_j, lab frame
    coriolis = np.einsum("ax,xij->aij", axes, crossed)
    rotational = units._hbar / (4 * np.pi * units._c * 100 * moments * units._amu * 1e-20)
    return coriolis, rotational


def levi_civita() -> np.ndarray:
    tensor = np.zeros((3, 3, 3))
    for (i, j, k), sign in (((0, 1, 2), 1), ((1, 2, 0), 1), ((2, 0, 1), 1), ((0, 2, 1), -1), ((2, 1, 0), -1), ((1, 0, 2), -1)):
        tensor[i, j, k] = sign
    return tensor


@dataclass(frozen=True)
class FermiResonance:
    """The fundamental of ``mode`` near the overtone or combination of ``partners`` (two modes, the
    same one twice for an overtone): ``gap`` = ω_p + ω_q − ω_mode and ``coupling`` ⟨1_mode|H|1_p 1_q⟩ in cm⁻¹."""

    mode: int
    partners: tuple[int, int]
    gap: float
    coupling: float


@dataclass(frozen=True)
class Anharmonic:
    """``harmonic`` ω and ``fundamentals`` ν (n,) cm⁻¹ (generalised VPT2: resonances diagonalised);
    ``deperturbed`` ν with the resonant terms only removed; ``chi`` the deperturbed χ (n, n)."""

    harmonic: np.ndarray
    fundamentals: np.ndarray
    deperturbed: np.ndarray
    chi: np.ndarray
    resonances: tuple[FermiResonance, ...]


def vpt2(field: QuarticForceField, settings: VPT2Settings = VPT2Settings()) -> Anharmonic:
    """Fundamentals of the quartic force field by (generalised) VPT2."""
    resonances = fermi_resonances(field, settings)
    chi = anharmonic_constants(field, {(r.mode, r.partners) for r in resonances})
    deperturbed = np.array([state_energy(field.wavenumbers, chi, unit_state(len(chi), i)) for i in range(len(chi))])
    fundamentals = resonant_fundamentals(field.wavenumbers, chi, deperturbed, resonances)
    return Anharmonic(field.wavenumbers, fundamentals, deperturbed, chi, resonances)


def fermi_resonances(field: QuarticForceField, settings: VPT2Settings) -> tuple[FermiResonance, ...]:
    omega, cubic = field.wavenumbers, field.cubic
    found = []
    for mode in range(len(omega)):
        for p, q in itertools.combinations_with_replacement(range(len(omega)), 2):
            if mode in (p, q):
                continue
            gap = omega[p] + omega[q] - omega[mode]
            # ⟨1_i|H|2_k⟩ = φ_ikk/4, ⟨1_i|H|1_k 1_l⟩ = φ_ikl/(2√2), from q = (a + a†)/√2
            coupling = cubic[mode, p, q] / 4 if p == q else cubic[mode, p, q] / (2 * np.sqrt(2))
            if abs(gap) <= settings.fermi_window and coupling**4 >= settings.martin_threshold * abs(gap) ** 3:
                found.append(FermiResonance(mode, (p, q), float(gap), float(coupling)))
    return tuple(found)


def anharmonic_constants(field: QuarticForceField, resonant: set[tuple[int, tuple[int, int]]] = frozenset()) -> np.ndarray:
    """χ (n, n) in cm⁻¹; a term whose denominator is ω_i − ω_p − ω_q for a pair in ``resonant``
    ((i, (p, q)), p ≤ q) is left out."""
    omega, cubic, quartic = field.wavenumbers, field.cubic, field.quartic
    n = len(omega)

    def near(fundamental: int, p: int, q: int) -> float:
        """1/(ω_f − ω_p − ω_q), or 0 where that is a treated resonance."""
        if (fundamental, (min(p, q), max(p, q))) in resonant:
            return 0.0
        return 1.0 / (omega[fundamental] - omega[p] - omega[q])

    chi = np.zeros((n, n))
    for i in range(n):
        total = quartic[i, i] / 16
        for k in range(n):
            # (8ω_i² − 3ω_k²)/(ω_k(4ω_i² − ω_k²)) = 2/ω_k + ½/(ω_k − 2ω_i) + ½/(2ω_i + ω_k)
            fractions = 2 / omega[k] + 0.5 * near(k, i, i) + 0.5 / (2 * omega[i] + omega[k])
            total -= cubic[i, i, k] ** 2 * fractions / 16
        chi[i, i] = total
    for i, j in itertools.combinations(range(n), 2):
        total = quartic[i, j] / 4 - np.sum(cubic[i, i] * cubic[j, j] / omega) / 4
        for k in range(n):
            # ω_k(ω_i² + ω_j² − ω_k²)/(2Δ_ijk) as partial fractions, each denominator a possible resonance
            fractions = (-1 / (omega[i] + omega[j] + omega[k]) - near(k, i, j) + near(j, i, k) + near(i, j, k)) / 8
            total += cubic[i, j, k] ** 2 * fractions
        rotation = np.sum(field.rotational * field.coriolis[:, i, j] ** 2) * (omega[i] / omega[j] + omega[j] / omega[i])
        chi[i, j] = chi[j, i] = total + rotation
    return chi


def unit_state(n: int, *excited: int) -> np.ndarray:
    state = np.zeros(n, dtype=int)
    for mode in excited:
        state[mode] += 1
    return state


def state_energy(omega: np.ndarray, chi: np.ndarray, quanta: np.ndarray) -> float:
    """E(v) − E(0) = Σ ω_i v_i + Σ_{i≤j} χ_ij [(v_i + ½)(v_j + ½) − ¼] (cm⁻¹)."""
    shifted = quanta + 0.5
    pairs = np.outer(shifted, shifted) - 0.25
    return float(omega @ quanta + np.sum(np.triu(chi) * pairs))


def resonant_fundamentals(omega: np.ndarray, chi: np.ndarray, deperturbed: np.ndarray,
                          resonances: tuple[FermiResonance, ...]) -> np.ndarray:
    """Each group of fundamentals linked through shared partners is diagonalised with them; a
    fundamental takes the eigenvalue whose eigenvector has the most of it."""
    n = len(omega)
    fundamentals = deperturbed.copy()
    for group in resonance_groups(resonances):
        states = sorted({("fundamental", r.mode) for r in group} | {("partners", r.partners) for r in group})
        index = {state: position for position, state in enumerate(states)}
        matrix = np.diag([deperturbed[label] if kind == "fundamental" else state_energy(omega, chi, unit_state(n, *label))
                          for kind, label in states])
        for r in group:
            a, b = index[("fundamental", r.mode)], index[("partners", r.partners)]
            matrix[a, b] = matrix[b, a] = r.coupling
        energies, vectors = np.linalg.eigh(matrix)
        for (kind, mode), position in index.items():
            if kind == "fundamental":
                fundamentals[mode] = energies[np.argmax(vectors[position] ** 2)]
    return fundamentals


def resonance_groups(resonances: tuple[FermiResonance, ...]) -> list[list[FermiResonance]]:
    """Resonances that share a fundamental or a partner state, together."""
    groups: list[list[FermiResonance]] = []
    for resonance in resonances:
        linked = [g for g in groups if any(r.mode == resonance.mode or r.partners == resonance.partners for r in g)]
        merged = [resonance] + [r for g in linked for r in g]
        groups = [g for g in groups if g not in linked] + [merged]
    return groups
