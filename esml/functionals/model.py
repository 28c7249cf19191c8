"""A learned meta-GGA hybrid: neural enhancement factors on PBE with exact constraints built in.

    E_xc = a·E_x^HF + (1 - a)·Σ_σ ½ E_x^sl[2ρ_σ] + E_c                          (global hybrid, ω = 0)
    E_xc = a·E_x^HF,SR + E_x^HF,LR + (1 - a)·Σ_σ ½ E_x^sl,SR[2ρ_σ] + E_c          (range-separated, ω > 0)

Exchange, per spin (spin scaling holds by construction): the PBE form
F_x = 1 + κ - κ / (1 + f_x·μs²/κ) with f_x = 2·sigmoid(net_x(s², β)) in (0, 2), where
β = (τ - τ_W)/(τ + τ_unif) is the bounded iso-orbital indicator (½ in the uniform gas). So F_x = 1 at
s = 0 (the uniform gas), 1 ≤ F_x < 1 + κ = 1.804 everywhere (the local Lieb–Oxford bound),
and f_x = 1 is PBE.

Range separation splits the electron–electron Coulomb operator at ω (bohr⁻¹) into erfc(ωr)/r and
erf(ωr)/r. The long-range part of exchange is exact exchange in full, which gives the exchange
potential its exact -1/r tail and removes the long-range delocalisation error that a global
fraction can only dilute; the short-range part mixes a fraction a of exact exchange with the
semilocal exchange screened as in :func:`~esml.functionals.semilocal.short_range_fraction`. For
the uniform gas the two ranges add up to its exact exchange, so the uniform-gas limit still holds.

Correlation: ε_c = ε_c^PBE(r_s, ζ, s)·f_c with f_c = 1 + tanh(net_c(r_s, ζ, s²))·s²/(1 + s²),
which is 1 in the uniform gas (s = 0). So 0 < f_c < 2: correlation keeps PBE's sign, and the
uniform gas keeps PW92. Correlation does not see β: a correlation factor trained on β made the
energy so curved in the orbitals near the nuclei, where τ - τ_W is a small difference of large
numbers, that the SCF could not converge.

The exact-exchange fraction a is learned (a sigmoid of one parameter) or zero. Both networks
start with a zero last layer: an untrained functional is PBE (or PBE with a·E_x^HF mixed in, or,
range-separated, libxc's long-range-corrected hybrid on ITYH-screened PBE exchange).
Atomic units; densities arrive per spin as PySCF lays them out: [ρ, ∂xρ, ∂yρ, ∂zρ, τ].
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass
from pathlib import Path

import torch

from esml.errors import EsmlError
from esml.functionals.semilocal import (
    ZETA_LIMIT,
    exchange_lda,
    fermi_momentum,
    iso_orbital_indicator,
    masked,
    pbe_correlation,
    pbe_exchange_factor,
    reduced_gradient_squared,
    short_range_fraction,
)


@dataclass(frozen=True)
class XCConfig:
    width: int = 16
    layers: int = 2
    exact_exchange: bool = True
    initial_exact_exchange: float = 0.25  # short-range only when range-separated
    range_separation: float = 0.0  # ω (bohr⁻¹) of the Coulomb split; 0: a global hybrid


def _network(inputs: int, config: XCConfig) -> torch.nn.Sequential:
    layers, width = [], inputs
    for _ in range(config.layers):
        layers += [torch.nn.Linear(width, config.width), torch.nn.SiLU()]  # smooth: fxc needs 2nd derivatives
        width = config.width
    last = torch.nn.Linear(width, 1)
    torch.nn.init.zeros_(last.weight)
    torch.nn.init.zeros_(last.bias)
    return torch.nn.Sequential(*layers, last).double()


def _bounded(s2: torch.Tensor, beta: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Network inputs in [0, 1) and (-1, 1]: s²/(1 + s²) and 1 - 2β (0 in the uniform gas)."""
    return s2 / (1.0 + s2), 1.0 - 2.0 * beta


class LearnedXC(torch.nn.Module):
    def __init__(self, config: XCConfig = XCConfig()):
        super().__init__()
        self.config = config
        self.exchange = _network(2, config)
        self.correlation = _network(3, config)
        logit = math.log(config.initial_exact_exchange / (1.0 - config.initial_exact_exchange))
        self.exact_exchange_logit = torch.nn.Parameter(torch.tensor(logit, dtype=torch.float64),
                                                       requires_grad=config.exact_exchange)

    @property
    def exact_exchange_fraction(self) -> torch.Tensor:
        """a: of all exchange for a global hybrid, of the short-range part when range-separated."""
        if not self.config.exact_exchange:
            return torch.zeros((), dtype=torch.float64)
        return torch.sigmoid(self.exact_exchange_logit)

    @property
    def long_range_exact_exchange(self) -> float:
        """The fraction of long-range exchange that is exact: all of it, when there is a long range."""
        return 1.0 if self.config.range_separation > 0 else 0.0

    def exact_exchange_energy(self, exact_exchange: torch.Tensor | float, long_range: torch.Tensor | float) -> torch.Tensor:
        """The exact-exchange part of E_xc from E_x^HF and its long-range part E_x^HF,LR (both Ha)."""
        return self.exact_exchange_fraction * (exact_exchange - long_range) + self.long_range_exact_exchange * long_range

    def forward(self, rho: torch.Tensor) -> torch.Tensor:
        """Semilocal XC energy per volume on grid points from per-spin densities (2, 5, N)."""
        return self.energy(describe(rho))

    def energy(self, features: dict[str, torch.Tensor]) -> torch.Tensor:
        """The same from :func:`describe`'s features, which do not depend on the parameters
        (training computes them once per grid)."""
        return (1.0 - self.exact_exchange_fraction) * self.semilocal_exchange(features) + self.correlation_energy(features)

    def semilocal_exchange(self, features: dict[str, torch.Tensor]) -> torch.Tensor:
        """Both spins' semilocal exchange per volume, before the (1 - a) of the hybrid."""
        return sum(self.exchange_energy(*(features[f"{key}_{spin}"] for key in EXCHANGE_KEYS)) for spin in ("up", "down"))

    def exchange_energy(self, lda_exchange: torch.Tensor, s2: torch.Tensor, beta: torch.Tensor,
                        k_fermi: torch.Tensor) -> torch.Tensor:
        """One spin's semilocal exchange per volume (its short-range part when range-separated),
        before the (1 - a) of the hybrid."""
        scale = 2.0 * torch.sigmoid(self.exchange(torch.stack(_bounded(s2, beta), -1)).squeeze(-1))
        enhancement = pbe_exchange_factor(s2, scale)
        if self.config.range_separation > 0:
            enhancement = enhancement * short_range_fraction(self.config.range_separation, k_fermi, enhancement)
        return lda_exchange * enhancement

    def correlation_energy(self, features: dict[str, torch.Tensor]) -> torch.Tensor:
        s2, rs = features["s2"], features["rs"]
        gradient = s2 / (1.0 + s2)  # also the departure from the uniform gas, where it is 0
        inputs = torch.stack([(rs - 1.0) / (rs + 1.0), features["zeta2"], gradient], -1)
        return features["pbe_correlation"] * (1.0 + torch.tanh(self.correlation(inputs).squeeze(-1)) * gradient)


EXCHANGE_KEYS = ("lda_exchange", "s2", "beta", "k_fermi")  # per spin, in exchange_energy's order


def describe(rho: torch.Tensor) -> dict[str, torch.Tensor]:
    """The functional's local variables from per-spin densities (2, 5, N). Energies per volume
    (``lda_exchange_*`` = ½ e_x^LDA[2ρ_σ], ``pbe_correlation`` = n·ε_c^PBE) are zero where the
    density is negligible, so those points contribute nothing."""
    features = {}
    for spin, spin_rho in zip(("up", "down"), rho):
        density, present = masked(2.0 * spin_rho[0])
        sigma = 4.0 * (spin_rho[1:4] ** 2).sum(0)
        lda = 0.5 * exchange_lda(density)
        features[f"lda_exchange_{spin}"] = torch.where(present, lda, torch.zeros_like(lda))
        features[f"s2_{spin}"] = reduced_gradient_squared(density, sigma)
        features[f"beta_{spin}"] = iso_orbital_indicator(density, sigma, 2.0 * spin_rho[4])
        features[f"k_fermi_{spin}"] = fermi_momentum(density)
    density, present = masked(rho[0, 0] + rho[1, 0])
    zeta = torch.clamp((rho[0, 0] - rho[1, 0]) / density, -ZETA_LIMIT, ZETA_LIMIT)
    sigma = ((rho[0, 1:4] + rho[1, 1:4]) ** 2).sum(0)
    per_electron, rs = pbe_correlation(density, zeta, sigma)
    correlation = density * per_electron
    features.update(pbe_correlation=torch.where(present, correlation, torch.zeros_like(correlation)), rs=rs,
                    zeta2=zeta**2, s2=reduced_gradient_squared(density, sigma))
    return features


def save(model: LearnedXC, path: Path, metadata: dict | None = None) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    torch.save({"format": "esml-xc", "config": asdict(model.config), "state": model.state_dict(),
                "metadata": metadata or {}}, path)


def load(path: Path) -> tuple[LearnedXC, dict]:
    """A saved functional and its metadata (training set, scores)."""
    path = Path(path)
    if not path.is_file():
        raise EsmlError(f"{path}: no such functional file; give a file written by `esml xc train`")
    try:
        saved = torch.load(path, map_location="cpu", weights_only=True)
        model = LearnedXC(XCConfig(**saved["config"]))
        model.load_state_dict(saved["state"])
    except Exception as error:  # a foreign or damaged file fails in many ways
        raise EsmlError(f"{path}: not an esml functional ({type(error).__name__}); train one with `esml xc train`") from None
    return model.eval(), saved.get("metadata", {})
