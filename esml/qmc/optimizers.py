"""Parameter updates from the energy gradient ∂E/∂θ = 2 E[(E_L - E) ∂log|ψ|/∂θ].

- ``adam``: that gradient into torch's Adam.
- ``sr``: stochastic reconfiguration, the natural gradient δ = (S + λ)⁻¹ g with S the covariance
  of the log-derivatives O = ∂log|ψ|/∂θ over the walkers. With B walkers and P ≫ B parameters it
  is solved in sample space (minSR; Chen & Heyl, Nat. Phys. 2024): δ = Ōᵀ(ŌŌᵀ + λ)⁻¹ε, a B × B
  system. Each step is held inside a trust region δᵀSδ ≤ ``max_norm`` (as KFAC does in FermiNet).
"""

from __future__ import annotations

import torch
from torch import nn
from torch.func import functional_call, grad, vmap

from esml.qmc.config import OptimizerConfig


def centered_energies(energies: torch.Tensor) -> torch.Tensor:
    return energies - energies.mean()


class Optimizer:
    def __init__(self, model: nn.Module, config: OptimizerConfig):
        self.model, self.config = model, config
        self.names = [name for name, parameter in model.named_parameters() if parameter.requires_grad]
        self.adam = torch.optim.Adam(model.parameters(), lr=config.learning_rate) if config.name == "adam" else None

    def rate(self, step: int, scale: float) -> float:
        return scale * self.config.learning_rate / (1.0 + step / self.config.decay_steps)

    def step(self, electrons: torch.Tensor, energies: torch.Tensor, step: int, scale: float = 1.0) -> None:
        """One update from walkers (B, N, 3) and their (clipped) local energies (B,)."""
        if self.adam is not None:
            self._adam(electrons, energies, self.rate(step, scale))
        else:
            self._natural_gradient(electrons, energies, self.rate(step, scale))

    def _adam(self, electrons, energies, rate):
        for group in self.adam.param_groups:
            group["lr"] = rate
        self.adam.zero_grad()
        log_abs = vmap(lambda one: self.model(one)[1])(electrons)
        (2.0 * (centered_energies(energies).detach() * log_abs).mean()).backward()
        self.adam.step()

    def _natural_gradient(self, electrons, energies, rate):
        parameters = {name: parameter.detach() for name, parameter in self.model.named_parameters()}
        buffers = dict(self.model.named_buffers())

        def log_abs(values, one):
            return functional_call(self.model, (values, buffers), (one,))[1]

        per_sample = vmap(grad(log_abs), in_dims=(None, 0))(parameters, electrons)
        derivatives = torch.cat([per_sample[name].reshape(len(electrons), -1) for name in self.names], dim=1)
        batch = len(electrons)
        centered = (derivatives - derivatives.mean(0)) / batch**0.5
        errors = centered_energies(energies) / batch**0.5
        gram = centered @ centered.T
        gram.diagonal().add_(self.config.damping)
        update = centered.T @ torch.linalg.solve(gram, errors)
        metric_norm = float((centered @ update).pow(2).sum()) * rate**2
        if metric_norm > self.config.max_norm:
            rate *= (self.config.max_norm / metric_norm) ** 0.5
        offset = 0
        with torch.no_grad():
            for name, parameter in self.model.named_parameters():
                size = parameter.numel()
                parameter -= rate * update[offset:offset + size].reshape(parameter.shape)
                offset += size

    def state_dict(self) -> dict:
        return self.adam.state_dict() if self.adam is not None else {}

    def load_state_dict(self, state: dict) -> None:
        if self.adam is not None and state:
            self.adam.load_state_dict(state)
