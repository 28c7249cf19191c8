"""Metropolis-adjusted Langevin (MALA) sampling of |ψ|², all walkers in one batch.

A move proposes r' = r + τ v(r) + √τ ξ, where v = ∇log|ψ| is the drift, capped per electron so
that walkers near a node (where v diverges) do not jump across the system; the acceptance ratio
uses the same capped drift, so the chain still samples |ψ|² exactly. τ adapts after every
sweep towards the acceptance that is optimal for Langevin proposals (≈ 0.57).
"""

from __future__ import annotations

from dataclasses import dataclass
from itertools import cycle, islice

import torch

from esml.qmc.hamiltonian import LogPsi
from esml.qmc.system import System

TARGET_ACCEPTANCE = 0.57
MAX_DRIFT = 1.0  # Bohr per unit τ, per electron


@dataclass
class Walkers:
    electrons: torch.Tensor  # (B, N, 3) Bohr
    step_size: float  # τ
    acceptance: float = 0.0


def initial_walkers(system: System, batch: int, generator: torch.Generator, device: torch.device) -> Walkers:
    """Electrons spread around the nuclei, each nucleus taking as many as its charge (spins alternate)."""
    owners = [index for index, z in enumerate(system.charges) for _ in range(z)]
    up, down = owners[0::2] + owners[1::2], owners[1::2] + owners[0::2]  # alternate spins; cycle for anions
    assignment = list(islice(cycle(up), system.n_up)) + list(islice(cycle(down), system.n_down))
    centers = torch.tensor(system.coordinates, dtype=torch.float64, device=device)[assignment]
    noise = torch.randn(batch, system.n_electrons, 3, generator=generator, dtype=torch.float64, device=device)
    return Walkers(centers + noise, step_size=0.1)


def gradient_and_value(log_psi: LogPsi, electrons: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    with torch.enable_grad():
        positions = electrons.detach().requires_grad_(True)
        value = log_psi(positions)
        (gradient,) = torch.autograd.grad(value.sum(), positions)
    return gradient, value.detach()


def _capped_drift(gradient: torch.Tensor) -> torch.Tensor:
    norm = torch.linalg.norm(gradient, dim=-1, keepdim=True)
    return gradient * torch.clamp(MAX_DRIFT / (norm + 1e-12), max=1.0)


def sweep(log_psi: LogPsi, walkers: Walkers, steps: int, generator: torch.Generator) -> Walkers:
    """``steps`` MALA moves of every walker; τ is adapted after each."""
    electrons, tau = walkers.electrons, walkers.step_size
    gradient, log_abs = gradient_and_value(log_psi, electrons)
    accepted_total = 0.0
    for _ in range(steps):
        drift = _capped_drift(gradient)
        noise = torch.randn(electrons.shape, generator=generator, dtype=electrons.dtype, device=electrons.device)
        proposal = electrons + tau * drift + tau**0.5 * noise
        proposal_gradient, proposal_log_abs = gradient_and_value(log_psi, proposal)
        backward = proposal + tau * _capped_drift(proposal_gradient) - electrons
        log_ratio = (2.0 * (proposal_log_abs - log_abs) - (backward**2).sum((1, 2)) / (2 * tau)
                     + (noise**2).sum((1, 2)) / 2)
        uniform = torch.rand(len(electrons), generator=generator, dtype=electrons.dtype, device=electrons.device)
        accept = torch.log(uniform) < log_ratio
        electrons = torch.where(accept[:, None, None], proposal, electrons)
        gradient = torch.where(accept[:, None, None], proposal_gradient, gradient)
        log_abs = torch.where(accept, proposal_log_abs, log_abs)
        rate = accept.double().mean().item()
        accepted_total += rate
        tau = float(min(1.0, max(1e-4, tau * (1.0 + 0.5 * (rate - TARGET_ACCEPTANCE)))))
    return Walkers(electrons.detach(), tau, accepted_total / max(1, steps))
