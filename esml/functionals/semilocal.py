"""PBE exchange and correlation, the meta-GGA variable β and the short-range screening of
exchange, written in torch (atomic units).

Everything takes densities per spin on grid points and returns energies per volume, so that
autograd gives the potentials and their derivatives. Constants follow libxc's PBE (PW92 with
libxc's digits) so that an unmodified functional equals PySCF's ``pbe`` to 1e-8 Ha.

Points whose density is below ``DENSITY_FLOOR`` contribute nothing. They are computed on a
harmless stand-in value and masked, so that neither values nor gradients can become NaN.
"""

from __future__ import annotations

import math

import torch

DENSITY_FLOOR = 1e-12
ZETA_LIMIT = 1.0 - 1e-12  # keeps (1 ± ζ)^(2/3) differentiable for fully polarised points

KAPPA = 0.804
MU = 0.2195149727645171
BETA = 0.06672455060314922
GAMMA = (1.0 - math.log(2.0)) / math.pi**2
# PW92 correlation of the uniform gas, libxc's "PW_MOD" digits: (A, α1, β1, β2, β3, β4) for the
# unpolarised gas, the fully polarised gas and the spin stiffness.
PW92 = ((0.0310907, 0.21370, 7.5957, 3.5876, 1.6382, 0.49294),
        (0.01554535, 0.20548, 14.1189, 6.1977, 3.3662, 0.62517),
        (0.0168869, 0.11125, 10.357, 3.6231, 0.88026, 0.49671))
FZ20 = 1.709920934161365617563962776245  # f''(0) of the spin interpolation


def masked(density: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """(the density with 1 where it is negligible, the mask of points that count)."""
    present = density > DENSITY_FLOOR
    return torch.where(present, density, torch.ones_like(density)), present


def exchange_lda(density: torch.Tensor) -> torch.Tensor:
    """Uniform-gas exchange energy per volume of a spin-unpolarised density."""
    return -0.75 * (3.0 / math.pi) ** (1.0 / 3.0) * density ** (4.0 / 3.0)


def reduced_gradient_squared(density: torch.Tensor, sigma: torch.Tensor) -> torch.Tensor:
    """s² = |∇n|² / (2 k_F n)² of an unpolarised density n with σ = |∇n|²."""
    return sigma / (4.0 * fermi_momentum(density) ** 2 * density**2)


def pbe_exchange_factor(s2: torch.Tensor, scale: torch.Tensor | float = 1.0) -> torch.Tensor:
    """F_x = 1 + κ - κ / (1 + scale·μ s²/κ); scale = 1 is PBE, any scale ≥ 0 keeps 1 ≤ F_x ≤ 1 + κ."""
    return 1.0 + KAPPA - KAPPA / (1.0 + scale * MU * s2 / KAPPA)


def short_range_fraction(omega: float, k_fermi: torch.Tensor, enhancement: torch.Tensor) -> torch.Tensor:
    """The part of a semilocal exchange energy that the short-range Coulomb operator erfc(ωr)/r
    keeps, in the scheme of Iikura, Tsuneda, Yanai and Hirao (J. Chem. Phys. 115, 3540, 2001):
    the uniform gas's erf-screened exchange at the local Fermi momentum k_F/√F_x, so that a
    functional's enhancement factor F_x also sets how far its exchange hole reaches. In (0, 1]:
    1 at ω = 0, and for the uniform gas short-range plus exact long-range exchange is exact.

    Far out in the density tail (a = ω/2k large) the closed form cancels to nothing in floating
    point; there its series in 1/a takes over (the two agree to 1e-8 at a = 1)."""
    a = omega * torch.sqrt(enhancement) / (2.0 * k_fermi)
    near = torch.clamp(a, max=1.0)  # the closed form, only where it is used (no inf·0 in gradients)
    closed = 1.0 - (8.0 / 3.0) * near * (math.sqrt(math.pi) * torch.erf(0.5 / near)
                                         + (2.0 * near - 4.0 * near**3) * torch.exp(-0.25 / near**2)
                                         - 3.0 * near + 4.0 * near**3)
    x2 = 1.0 / torch.clamp(a, min=1.0) ** 2
    series = x2 * (1 / 36 - x2 * (1 / 960 - x2 * (1 / 26880 - x2 * (1 / 829440 - x2 / 28385280))))
    return torch.where(a < 1.0, closed, series)


def fermi_momentum(density: torch.Tensor) -> torch.Tensor:
    return (3.0 * math.pi**2 * density) ** (1.0 / 3.0)


def iso_orbital_indicator(density: torch.Tensor, sigma: torch.Tensor, tau: torch.Tensor) -> torch.Tensor:
    """β = (τ - τ_W) / (τ + τ_unif) in [0, 1) of an unpolarised density: 0 where one orbital
    dominates, ½ in the uniform gas.

    Not α = (τ - τ_W) / τ_unif: α is unbounded and dα/dτ = 1/τ_unif grows as ρ^(-5/3) in density
    tails, so any α dependence gives a v_τ that diverges there and an SCF that does not settle
    (Furness & Sun, Phys. Rev. B 99, 041119, 2019, introduced β for this reason)."""
    tau_weizsaecker = sigma / (8.0 * density)
    tau_uniform = 0.3 * (3.0 * math.pi**2) ** (2.0 / 3.0) * density ** (5.0 / 3.0)
    return torch.clamp((tau - tau_weizsaecker) / (tau + tau_uniform), min=0.0)


def _pw92_g(rs: torch.Tensor, a: float, alpha1: float, b1: float, b2: float, b3: float, b4: float) -> torch.Tensor:
    root = torch.sqrt(rs)
    denominator = 2.0 * a * (b1 * root + b2 * rs + b3 * rs * root + b4 * rs * rs)
    return -2.0 * a * (1.0 + alpha1 * rs) * torch.log1p(1.0 / denominator)


def correlation_lda(rs: torch.Tensor, zeta: torch.Tensor) -> torch.Tensor:
    """PW92 correlation energy per electron of the uniform gas."""
    unpolarised, polarised, stiffness = (_pw92_g(rs, *parameters) for parameters in PW92)
    f_zeta = ((1 + zeta) ** (4 / 3) + (1 - zeta) ** (4 / 3) - 2) / (2 ** (4 / 3) - 2)
    zeta4 = zeta**4
    return unpolarised + zeta4 * f_zeta * (polarised - unpolarised + stiffness / FZ20) - f_zeta * stiffness / FZ20


def pbe_correlation(density: torch.Tensor, zeta: torch.Tensor, sigma: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """(PBE correlation energy per electron, r_s) of a density with polarisation ζ and σ = |∇n|²."""
    rs = (3.0 / (4.0 * math.pi * density)) ** (1.0 / 3.0)
    uniform = correlation_lda(rs, zeta)
    phi = 0.5 * ((1 + zeta) ** (2 / 3) + (1 - zeta) ** (2 / 3))
    k_screening2 = 4.0 * fermi_momentum(density) / math.pi
    t2 = sigma / (4.0 * phi**2 * k_screening2 * density**2)
    phi3 = phi**3
    a = (BETA / GAMMA) / torch.expm1(-uniform / (GAMMA * phi3))
    at2 = a * t2
    h = GAMMA * phi3 * torch.log1p((BETA / GAMMA) * t2 * (1 + at2) / (1 + at2 + at2 * at2))
    return uniform + h, rs
