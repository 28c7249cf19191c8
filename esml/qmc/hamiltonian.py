"""The local energy E_L = Hψ/ψ in Hartree, for a batch of configurations (B, N, 3) in Bohr.

The kinetic term is -½ Σ_k (∂²_k log|ψ| + (∂_k log|ψ|)²) with the exact Laplacian: one
reverse pass for the gradient (kept differentiable), then one more per coordinate for the
diagonal of the Hessian. That is 3N + 1 backward passes, cheap for the small electron counts
esml's VMC is for; measured here it is 3× faster than forward-over-reverse ``jacfwd``.
"""

from __future__ import annotations

from collections.abc import Callable

import torch

LogPsi = Callable[[torch.Tensor], torch.Tensor]  # configurations (B, N, 3) -> log|ψ| (B,)


def potential_energy(electrons: torch.Tensor, nuclei: torch.Tensor, charges: torch.Tensor,
                     nuclear_repulsion: float) -> torch.Tensor:
    """(B,) Coulomb energy: electron–nucleus attraction, electron–electron and nucleus–nucleus repulsion."""
    to_nuclei = torch.linalg.norm(electrons[:, :, None, :] - nuclei, dim=-1)
    energy = -(charges / to_nuclei).sum((1, 2)) + nuclear_repulsion
    n = electrons.shape[1]
    if n > 1:
        first, second = torch.triu_indices(n, n, 1)
        energy = energy + (1.0 / torch.linalg.norm(electrons[:, first] - electrons[:, second], dim=-1)).sum(1)
    return energy


def kinetic_energy(log_psi: LogPsi, electrons: torch.Tensor) -> torch.Tensor:
    """(B,) local kinetic energy -½ ∇²ψ/ψ (detached)."""
    with torch.enable_grad():
        positions = electrons.detach().requires_grad_(True)
        (gradient,) = torch.autograd.grad(log_psi(positions).sum(), positions, create_graph=True)
        flat = gradient.reshape(len(positions), -1)
        laplacian = torch.zeros(len(positions), dtype=positions.dtype, device=positions.device)
        for k in range(flat.shape[1]):
            (row,) = torch.autograd.grad(flat[:, k].sum(), positions, retain_graph=k + 1 < flat.shape[1])
            laplacian += row.reshape(len(positions), -1)[:, k]
    return (-0.5 * (laplacian + (flat**2).sum(1))).detach()


def local_energy(log_psi: LogPsi, electrons: torch.Tensor, nuclei: torch.Tensor, charges: torch.Tensor,
                 nuclear_repulsion: float) -> torch.Tensor:
    return kinetic_energy(log_psi, electrons) + potential_energy(electrons, nuclei, charges, nuclear_repulsion)
