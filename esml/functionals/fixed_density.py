"""Training a learned functional on fixed densities (non-self-consistently), in Hartree.

For each molecule or atom, one self-consistent calculation with a starting functional gives
orbitals; on its grid the density variables are kept, with everything in the energy that does
not depend on the XC functional. The energy of any other functional on that density is then

    E[θ] = E_rest + a(θ)·E_x^HF,SR + b·E_x^HF,LR + Σ_grid w·e_xc^θ(ρ)

(b = 1 for a range-separated functional; for a global hybrid b = 0 and SR is all of E_x^HF)

which is differentiable in θ at no further quantum-chemistry cost. Evaluation, in contrast, is
always self-consistent (:mod:`esml.functionals.evaluation`).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np
import torch
from ase import Atoms

from esml.errors import ConvergenceError
from esml.functionals.model import EXCHANGE_KEYS, LearnedXC, describe
from esml.functionals.scf import molecule_of, solve
from esml.functionals.training_set import EXACT_ATOM_ENERGIES
from esml.units import HARTREE_TO_KCAL_PER_MOL

DENSITY_KEPT = 1e-10  # grid points with less total density carry no XC energy worth training on


@dataclass
class FixedDensity:
    """One species on the density of a starting functional."""

    name: str
    weights: torch.Tensor  # (N,)
    rho: torch.Tensor  # (2, 5, N): per spin [ρ, ∇ρ, τ]
    rest_energy: float  # all but exchange-correlation, Ha
    exact_exchange: float  # E_x^HF of the orbitals, Ha
    long_range_exchange: float = 0.0  # its long-range part at the model's ω (0 for a global hybrid), Ha


class Stack:
    """Several fixed densities on one concatenated grid: one network pass gives every energy.

    Exchange is per spin; a closed-shell species has equal spins, so it keeps one spin's points
    with twice the weight, which halves the exchange network's work for most species."""

    def __init__(self, states: Sequence[FixedDensity]):
        self.names = [state.name for state in states]
        self.rest = torch.tensor([state.rest_energy for state in states])
        self.exact_exchange = torch.tensor([state.exact_exchange for state in states])
        self.long_range_exchange = torch.tensor([state.long_range_exchange for state in states])
        with torch.no_grad():
            features = [describe(state.rho) for state in states]
        # The networks see single precision during training (twice as fast); sums stay in double.
        self.correlation = {key: torch.cat([f[key] for f in features]).float() for key in CORRELATION_KEYS}
        self.weights = torch.cat([state.weights for state in states])
        self.owner = torch.cat([torch.full((len(state.weights),), i) for i, state in enumerate(states)])
        rows = []  # (species, its density, spin, weight factor)
        for i, state in enumerate(states):
            spins = ("up",) if torch.equal(state.rho[0], state.rho[1]) else ("up", "down")
            rows += [(i, state, spin, 2.0 / len(spins)) for spin in spins]
        self.exchange_weights = torch.cat([state.weights * factor for _, state, _, factor in rows])
        self.exchange_owner = torch.cat([torch.full((len(state.weights),), i) for i, state, _, _ in rows])
        self.exchange = {key: torch.cat([features[i][f"{key}_{spin}"] for i, _, spin, _ in rows]).float()
                         for key in EXCHANGE_KEYS}

    def energies(self, model: LearnedXC) -> torch.Tensor:
        """Total energies (Ha), in the order of the states."""
        precision = next(model.parameters()).dtype
        exchange = model.exchange_energy(**{k: v.to(precision) for k, v in self.exchange.items()}).double()
        correlation = model.correlation_energy({k: v.to(precision) for k, v in self.correlation.items()}).double()
        semilocal = (1.0 - model.exact_exchange_fraction.double()) * self._sum(self.exchange_owner,
                                                                                 self.exchange_weights * exchange)
        semilocal = semilocal + self._sum(self.owner, self.weights * correlation)
        return self.rest + model.exact_exchange_energy(self.exact_exchange, self.long_range_exchange) + semilocal

    def _sum(self, owner: torch.Tensor, values: torch.Tensor) -> torch.Tensor:
        return torch.zeros(len(self.names), dtype=values.dtype).index_add_(0, owner, values)


CORRELATION_KEYS = ("pbe_correlation", "rs", "zeta2", "s2")


def fixed_density(name: str, atoms: Atoms, model: LearnedXC, basis: str, grid_level: int) -> FixedDensity:
    """The species on the self-consistent density of ``model``, with its non-XC energy."""
    mean_field, run = solve(molecule_of(atoms, basis), model, grid_level)
    if not run["converged"]:
        raise ConvergenceError(f"{name}: the SCF with the functional being trained did not converge in {basis}")
    mol, grids, ni = mean_field.mol, mean_field.grids, mean_field._numint
    density_matrices = mean_field.make_rdm1()
    if density_matrices.ndim == 2:
        density_matrices = np.stack([density_matrices / 2, density_matrices / 2])
    rho, weights = [], []
    for ao, mask, weight, _ in ni.block_loop(mol, grids, mol.nao, deriv=1):
        rho.append(np.stack([ni.eval_rho(mol, ao, dm, mask, xctype="MGGA", with_lapl=False) for dm in density_matrices]))
        weights.append(weight)
    rho, weights = np.concatenate(rho, axis=-1), np.concatenate(weights)
    kept = rho[:, 0].sum(0) > DENSITY_KEPT
    rho, weights = torch.tensor(rho[..., kept]), torch.tensor(weights[kept])
    exact_exchange = _exact_exchange(mean_field, density_matrices)
    omega = model.config.range_separation
    long_range = _exact_exchange(mean_field, density_matrices, omega) if omega > 0 else 0.0
    with torch.no_grad():
        functional = model.exact_exchange_energy(exact_exchange, long_range) + (weights * model(rho)).sum()
    return FixedDensity(name, weights, rho, float(mean_field.e_tot - functional), exact_exchange, long_range)


def _exact_exchange(mean_field, density_matrices: np.ndarray, omega: float = 0.0) -> float:
    """E_x^HF = -½ Σ_σ Tr(D_σ K[D_σ]), or its long-range part with erf(ωr)/r for ω > 0."""
    exchange = mean_field.get_k(mean_field.mol, density_matrices, omega=omega or None)
    return float(-0.5 * np.einsum("sij,sji->", density_matrices, exchange))


@dataclass(frozen=True)
class TrainConfig:
    iterations: int = 300  # L-BFGS iterations over the whole set (it stops earlier once the loss settles)
    exact_weight: float = 0.05  # weight of the atoms' total-energy errors against atomisation errors
    # Weight of the stretched one-electron systems (H₂⁺): the larger, the more exact exchange and the
    # smaller the delocalisation error, at a cost in atomisation energies (BENCHMARKS.md, issue #8).
    delocalisation_weight: float = 0.25
    weight_decay: float = 1e-3  # on the network parameters: keeps the factors smooth and near PBE


def atomization_energies(energies: torch.Tensor, stack: Stack, composition: dict[str, list[str]]) -> torch.Tensor:
    """De (kcal/mol) of the molecules in ``composition``, in its order, from total energies of ``stack``."""
    row = {name: i for i, name in enumerate(stack.names)}
    return torch.stack([sum(energies[row[s]] for s in symbols) - energies[row[name]]
                        for name, symbols in composition.items()]) * HARTREE_TO_KCAL_PER_MOL


def train(model: LearnedXC, stack: Stack, composition: dict[str, list[str]], reference_kcal: dict[str, float],
          exact_energies: dict[str, float], config: TrainConfig = TrainConfig(),
          on_iteration: Callable[[int, float], None] = lambda iteration, loss: None) -> list[float]:
    """Fit atomisation energies (kcal/mol, squared error) of the molecules in ``composition`` and the
    total energies of the species in ``exact_energies`` (Ha; atoms, weighing ``config.exact_weight``,
    and one-electron systems, weighing ``config.delocalisation_weight``; both have known exact energies),
    all on the fixed densities in ``stack``; returns the loss per evaluation.

    The networks run in single precision here (twice as fast; energies are still summed in double),
    and the model is returned to double precision for self-consistent use."""
    target = torch.tensor([reference_kcal[name] for name in composition])
    exact_rows = torch.tensor([stack.names.index(name) for name in exact_energies], dtype=torch.long)
    exact = torch.tensor(list(exact_energies.values()))
    exact_weights = torch.tensor([config.exact_weight if name in EXACT_ATOM_ENERGIES else config.delocalisation_weight
                                  for name in exact_energies])
    optimizer = torch.optim.LBFGS(model.parameters(), max_iter=config.iterations, history_size=50,
                                  line_search_fn="strong_wolfe", tolerance_grad=1e-9, tolerance_change=1e-12)
    networks = [p for p in (*model.exchange.parameters(), *model.correlation.parameters())]
    losses = []

    def loss_and_gradient() -> torch.Tensor:
        optimizer.zero_grad()
        energies = stack.energies(model)
        loss = ((atomization_energies(energies, stack, composition) - target) ** 2).mean()
        if len(exact):
            errors = (energies[exact_rows] - exact) * HARTREE_TO_KCAL_PER_MOL
            loss = loss + (exact_weights * errors**2).mean()
        loss = loss + config.weight_decay * sum((p**2).sum() for p in networks)
        loss.backward()
        losses.append(float(loss.detach()))
        on_iteration(len(losses), losses[-1])
        return loss

    model.float()
    try:
        optimizer.step(loss_and_gradient)
    finally:
        model.double()
    return losses
