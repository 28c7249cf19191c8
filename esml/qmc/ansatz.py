"""A PauliNet-style neural wavefunction (Hermann et al., Nat. Chem. 2020), for one configuration
of the electrons (N, 3) in Bohr; batches come from ``torch.func.vmap``.

    ψ(r) = exp(J_cusp + J_net) · Σ_d c_d det[φ_dμ(r_i) (1 + f_dμ(h_i))]↑ det[…]↓

- φ_dμ, c_d: the orbitals of determinant d and its weight, from the baseline (``orbitals.py``):
  the CASSCF determinants and CI coefficients, or copies of the Hartree–Fock determinant, with
  cusp-corrected nuclear cusps. The network starts as the baseline (near-zero backflow f, zero
  J_net), which is its pretraining; the weights c_d are trained with the rest.
- h_i: an embedding of electron i built from its distances to the nuclei and, over a few
  interaction layers, to the other electrons (same and opposite spin apart). Every distance
  enters through Gaussians in r², which are flat at r = 0, so neither J_net nor the backflow can
  alter a cusp.
- The cusps are exact by construction: the corrected orbitals carry the electron–nucleus cusp -Z,
  and J_cusp = Σ a r/(1 + r/ℓ) over electron pairs the electron–electron cusps a = 1/2 (opposite
  spins) and 1/4 (same spin).
- Electrons of one spin enter every layer symmetrically, so each determinant is antisymmetric
  under their exchange. The sign of ψ and log|ψ| come from signed log-determinants.
"""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import torch
from torch import nn

from esml.qmc.config import AnsatzConfig
from esml.qmc.orbitals import Baseline, atomic_orbitals, cusp_corrected
from esml.qmc.system import System


class PauliNet(nn.Module):
    def __init__(self, system: System, baseline: Baseline, config: AnsatzConfig = AnsatzConfig()):
        super().__init__()
        self.groups, self.cusps = baseline.groups, baseline.cusps
        self.n_up, self.n_down, self.config = system.n_up, system.n_down, config
        self.register_buffer("nuclei", torch.tensor(system.coordinates, dtype=torch.float64))
        self.register_buffer("charges", torch.tensor(system.charges, dtype=torch.float64))
        self.register_buffer("inverse_widths", torch.from_numpy(np.geomspace(0.1, 8.0, config.gaussians) ** -2.0))
        self.register_buffer("coefficients", baseline.coefficients)
        copies = config.determinants if len(baseline.weights) == 1 else 1  # a CASSCF baseline brings its own
        self.register_buffer("up_columns", baseline.up_columns.repeat(copies, 1))
        self.register_buffer("down_columns", baseline.down_columns.repeat(copies, 1))
        self.n_determinants = len(self.up_columns)
        spins = torch.tensor([0] * system.n_up + [1] * system.n_down)
        self.register_buffer("same_spin", (spins[:, None] == spins[None, :]).double())
        self.register_buffer("spins", spins)
        width = config.width
        self.embed = nn.Linear(len(system.charges) * config.gaussians, width)
        self.spin_embedding = nn.Parameter(torch.zeros(2, width))
        self.same_filters = nn.ModuleList(nn.Linear(config.gaussians, width) for _ in range(config.layers))
        self.opposite_filters = nn.ModuleList(nn.Linear(config.gaussians, width) for _ in range(config.layers))
        self.updates = nn.ModuleList(nn.Linear(3 * width, width) for _ in range(config.layers))
        self.jastrow = nn.Sequential(nn.Linear(width, config.jastrow_width), nn.Tanh(),
                                     nn.Linear(config.jastrow_width, 1))
        self.up_backflow = nn.Linear(width, self.n_determinants * max(1, system.n_up))
        self.down_backflow = nn.Linear(width, self.n_determinants * max(1, system.n_down))
        self.determinant_weights = nn.Parameter(baseline.weights.repeat(copies).clone())
        self.electron_cusp_lengths = nn.Parameter(torch.zeros(2))  # log ℓ, same and opposite spins
        self.double()
        self._start_as_baseline()

    def _start_as_baseline(self) -> None:
        nn.init.zeros_(self.jastrow[-1].weight), nn.init.zeros_(self.jastrow[-1].bias)
        for head in (self.up_backflow, self.down_backflow):
            # small, not zero: determinants that start identical would stay identical
            nn.init.normal_(head.weight, std=1e-3), nn.init.zeros_(head.bias)

    def _apply(self, fn, recurse=True):
        # The shell groups hold tensors outside the module's buffers; they follow .to(device) too.
        super()._apply(fn, recurse)
        self.groups = [replace(group, centers=fn(group.centers), exponents=fn(group.exponents),
                               coefficients=fn(group.coefficients), axes=fn(group.axes)) for group in self.groups]
        self.cusps = [replace(cusp, columns=fn(cusp.columns), polynomial=fn(cusp.polynomial), shift=fn(cusp.shift),
                              sign=fn(cusp.sign)) for cusp in self.cusps]
        return self

    def forward(self, electrons: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """(sign of ψ, log|ψ|) for one configuration ``electrons`` (N, 3)."""
        embedding, squared = self._embedding(electrons)
        orbitals = cusp_corrected(atomic_orbitals(self.groups, electrons, self.nuclei), self.coefficients, electrons,
                                  self.nuclei, self.cusps)
        up = self._determinants(orbitals[:self.n_up, self.up_columns], embedding[:self.n_up], self.up_backflow)
        down = self._determinants(orbitals[self.n_up:, self.down_columns], embedding[self.n_up:], self.down_backflow)
        signs = torch.sign(self.determinant_weights) * up[0] * down[0]
        logs = torch.log(torch.abs(self.determinant_weights)) + up[1] + down[1]
        largest = logs.max().detach()
        total = (signs * torch.exp(logs - largest)).sum()
        log_abs = largest + torch.log(torch.abs(total)) + self.jastrow(embedding).sum() + self._electron_cusps(squared)
        return torch.sign(total), log_abs

    def _embedding(self, electrons):
        to_nuclei = ((electrons[:, None, :] - self.nuclei) ** 2).sum(-1)  # (N, M) squared distances
        nucleus_features = torch.exp(-to_nuclei[..., None] * self.inverse_widths).flatten(1)
        embedding = torch.tanh(self.embed(nucleus_features)) + self.spin_embedding[self.spins]
        squared = ((electrons[:, None, :] - electrons[None, :, :]) ** 2).sum(-1)  # (N, N)
        pair_features = torch.exp(-squared[..., None] * self.inverse_widths)
        others = 1.0 - torch.eye(len(electrons), dtype=electrons.dtype, device=electrons.device)
        same, opposite = self.same_spin * others, (1.0 - self.same_spin)
        for same_filter, opposite_filter, update in zip(self.same_filters, self.opposite_filters, self.updates):
            from_same = torch.einsum("ijc,jc->ic", same_filter(pair_features) * same[..., None], embedding)
            from_opposite = torch.einsum("ijc,jc->ic", opposite_filter(pair_features) * opposite[..., None], embedding)
            embedding = embedding + torch.tanh(update(torch.cat([embedding, from_same, from_opposite], dim=-1)))
        return embedding, squared

    def _determinants(self, orbitals, embedding, backflow) -> tuple[torch.Tensor, torch.Tensor]:
        """(signs, log|det|) of every determinant of one spin; ``orbitals`` (n, n_determinants, n)."""
        n = orbitals.shape[0]
        if n == 0:
            zeros = orbitals.new_zeros(self.n_determinants)
            return zeros + 1.0, zeros
        factors = 1.0 + backflow(embedding).reshape(n, self.n_determinants, n)
        return torch.linalg.slogdet((orbitals * factors).transpose(0, 1))

    def _electron_cusps(self, squared: torch.Tensor) -> torch.Tensor:
        n = len(squared)
        if n < 2:
            return torch.zeros((), dtype=squared.dtype, device=squared.device)
        first, second = torch.triu_indices(n, n, 1)
        r = torch.sqrt(squared[first, second])
        same = self.same_spin[first, second]
        slope = 0.25 * same + 0.5 * (1.0 - same)
        lengths = torch.exp(self.electron_cusp_lengths)[(1.0 - same).long()]
        return (slope * r / (1.0 + r / lengths)).sum()
