"""Fitting the sparse GP potential to energies and forces, hyperparameters by marginal likelihood.

With inducing environments Q (kernel matrix K = U Λ Uᵀ) and the kernel rows Φ of every observation
(an energy row per structure, a force row per component), the model is y = Φ U Λ^-½ β + ε with
β ~ N(0, σ_f² I): the subset-of-regressors GP. Directions of K with eigenvalues below a relative
cutoff are dropped, which keeps the fit stable when inducing environments nearly coincide. Its noise is σ_E² n_atoms for an energy (errors of
independent atoms add up) and σ_F² for a force component. Everything the marginal likelihood
needs reduces to M×M matrices, so the three noise and signal levels are optimised in seconds; the
length scale ℓ, which changes Φ itself, is picked from a grid by the same evidence.

Inducing environments are chosen per element by farthest-point sampling on the descriptors, all
of them when there are fewer than ``max_inducing``.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import scipy.linalg
import torch
from ase import Atoms
from scipy.optimize import minimize

from esml.errors import EsmlError
from esml.graph import atoms_to_graph
from esml.numerics import farthest_point_sampling
from esml.potentials.gp import GaussianProcessPotential, descriptor_jacobian, kernel_matrix, kernel_rows
from esml.training.config import GPConfig
from esml.training.data import check_labels, element_counts, fit_self_energies

EIGENVALUE_CUTOFF = 1e-9  # relative to the largest eigenvalue of the inducing kernel matrix
#: Bounds (eV, eV/Å, —) for the noise per atom σ_E, the force noise σ_F and the signal σ_f.
BOUNDS = {"energy_noise": (1e-4, 1.0), "force_noise": (1e-3, 2.0), "signal": (1e-3, 1e3)}


@dataclass
class FrameDescriptors:
    """What fitting needs of one labeled frame, computed once and reused when the data grow."""

    species: torch.Tensor
    aev: torch.Tensor
    jacobian: torch.Tensor
    energy: float
    forces: np.ndarray


class DescriptorCache:
    """AEVs and their Jacobians per frame, keyed by the frame's geometry; the loop refits every
    round on a growing set, so each frame's Jacobian is computed only once."""

    def __init__(self, species: Sequence[int], aev: dict | None = None):
        self.template = GaussianProcessPotential(species, aev=aev)
        self._frames: dict[int, FrameDescriptors] = {}

    def get(self, atoms: Atoms) -> FrameDescriptors:
        key = atoms.numbers.tobytes() + atoms.positions.tobytes() + atoms.cell.array.tobytes()
        if key not in self._frames:
            model = self.template
            graph = atoms_to_graph(atoms, model.cutoff, torch.float64)
            species = model.species_of(graph.numbers)
            with torch.no_grad():
                aev, jacobian = descriptor_jacobian(model.aev_computer, graph, species)
            self._frames[key] = FrameDescriptors(species, aev, jacobian, atoms.get_potential_energy(), atoms.get_forces())
        return self._frames[key]


def select_inducing(descriptors: Sequence[FrameDescriptors], n_species: int, max_inducing: int) -> tuple[torch.Tensor, torch.Tensor]:
    """(M, D) descriptors and (M,) element indices, up to ``max_inducing`` per element."""
    chosen, labels = [], []
    for element in range(n_species):
        pool = torch.cat([d.aev[d.species == element] for d in descriptors])
        if len(pool) > max_inducing:
            pool = pool[farthest_point_sampling(pool.numpy(), max_inducing)]
        chosen.append(pool)
        labels.append(torch.full((len(pool),), element, dtype=torch.int64))
    return torch.cat(chosen), torch.cat(labels)


@dataclass
class Observations:
    """Whitened design φ = Φ U Λ^-½, split into energy rows (per structure) and force rows."""

    energy_rows: np.ndarray  # (n_structures, R)
    energy_targets: np.ndarray  # eV, self energies removed
    n_atoms: np.ndarray
    force_rows: np.ndarray  # (n_components, R)
    force_targets: np.ndarray  # eV/Å
    whitening: np.ndarray  # U Λ^-½ (M, R)


def whitening(inducing: torch.Tensor, inducing_species: torch.Tensor, length_scale: float) -> np.ndarray:
    """U Λ^-½ over the well-conditioned eigen-directions of the inducing kernel matrix."""
    kernel = kernel_matrix(inducing, inducing_species, inducing, inducing_species, length_scale).numpy()
    values, vectors = np.linalg.eigh(kernel)
    keep = values > EIGENVALUE_CUTOFF * values[-1]
    return vectors[:, keep] / np.sqrt(values[keep])


def observations(descriptors: Sequence[FrameDescriptors], counts: np.ndarray, self_energies: np.ndarray,
                 inducing: torch.Tensor, inducing_species: torch.Tensor, length_scale: float) -> Observations:
    energy_rows, force_rows = [], []
    for d in descriptors:
        energy_row, force_row = kernel_rows(d.aev, d.jacobian, d.species, inducing, inducing_species, length_scale)
        energy_rows.append(energy_row.numpy())
        force_rows.append(force_row.numpy())
    transform = whitening(inducing, inducing_species, length_scale)
    return Observations(
        energy_rows=np.asarray(energy_rows) @ transform,
        energy_targets=np.array([d.energy for d in descriptors]) - counts @ self_energies,
        n_atoms=counts.sum(1),
        force_rows=np.concatenate(force_rows) @ transform,
        force_targets=np.concatenate([d.forces.ravel() for d in descriptors]),
        whitening=transform,
    )


class Evidence:
    """The log marginal likelihood of the observations as a function of the hyperparameters."""

    def __init__(self, obs: Observations):
        weight = 1.0 / obs.n_atoms
        self.gram_energy = obs.energy_rows.T @ (weight[:, None] * obs.energy_rows)
        self.gram_force = obs.force_rows.T @ obs.force_rows
        self.b_energy = obs.energy_rows.T @ (weight * obs.energy_targets)
        self.b_force = obs.force_rows.T @ obs.force_targets
        self.yy_energy = float(obs.energy_targets @ (weight * obs.energy_targets))
        self.yy_force = float(obs.force_targets @ obs.force_targets)
        self.n_energy, self.n_force = len(obs.energy_targets), len(obs.force_targets)
        self.log_n_atoms = float(np.log(obs.n_atoms).sum())

    def posterior(self, energy_noise: float, force_noise: float, signal: float) -> tuple[np.ndarray, np.ndarray]:
        """Cholesky factor of the posterior precision A of β, and A⁻¹ b (β's posterior mean)."""
        precision = self.gram_energy / energy_noise**2 + self.gram_force / force_noise**2
        precision[np.diag_indices_from(precision)] += 1.0 / signal**2
        factor = scipy.linalg.cholesky(precision, lower=True)
        rhs = self.b_energy / energy_noise**2 + self.b_force / force_noise**2
        return factor, scipy.linalg.cho_solve((factor, True), rhs)

    def log_likelihood(self, energy_noise: float, force_noise: float, signal: float) -> float:
        factor, mean = self.posterior(energy_noise, force_noise, signal)
        rhs = self.b_energy / energy_noise**2 + self.b_force / force_noise**2
        fit = self.yy_energy / energy_noise**2 + self.yy_force / force_noise**2 - rhs @ mean
        log_det = (self.n_energy * math.log(energy_noise**2) + self.log_n_atoms + self.n_force * math.log(force_noise**2)
                   + len(mean) * math.log(signal**2) + 2.0 * np.log(np.diag(factor)).sum())
        return -0.5 * (fit + log_det + (self.n_energy + self.n_force) * math.log(2 * math.pi))


def optimise_hyperparameters(evidence: Evidence, start: dict) -> dict:
    """Maximum marginal likelihood over log σ_E, log σ_F, log σ_f within BOUNDS."""
    names = list(BOUNDS)

    def negative(log_values: np.ndarray) -> float:
        try:
            return -evidence.log_likelihood(**dict(zip(names, np.exp(log_values))))
        except (np.linalg.LinAlgError, scipy.linalg.LinAlgError):
            return 1e300

    x0 = np.log([np.clip(start[n], *BOUNDS[n]) for n in names])
    # the evidence is thousands of nats; a change of 1e-7 of it moves no prediction
    result = minimize(negative, x0, method="L-BFGS-B", bounds=[tuple(np.log(BOUNDS[n])) for n in names], options={"ftol": 1e-7})
    return dict(zip(names, np.exp(result.x).tolist()))


@dataclass
class Candidate:
    length_scale: float
    observations: Observations
    evidence: Evidence
    hyperparameters: dict
    log_likelihood: float


def fit_gaussian_process(frames: Sequence[Atoms], config: GPConfig = GPConfig(),
                         cache: DescriptorCache | None = None) -> GaussianProcessPotential:
    """A GP potential fitted to the energies and forces of ``frames``."""
    check_labels(frames, forces=True, what="the GP's training data")
    species = sorted({int(z) for atoms in frames for z in atoms.numbers})
    if cache is None or cache.template.species != species:
        cache = DescriptorCache(species)
    descriptors = [cache.get(atoms) for atoms in frames]
    self_energies = fit_self_energies(frames, species)
    counts = element_counts(frames, species)
    inducing, inducing_species = select_inducing(descriptors, len(species), config.max_inducing)
    best = None
    for length_scale in config.length_scales:
        candidate = fit_length_scale(descriptors, counts, self_energies, inducing, inducing_species, length_scale, config)
        if best is None or candidate.log_likelihood > best.log_likelihood:
            best = candidate
    return potential_from_fit(species, self_energies, inducing, inducing_species, best)


def fit_length_scale(descriptors, counts, self_energies, inducing, inducing_species, length_scale: float, config: GPConfig) -> Candidate:
    obs = observations(descriptors, counts, self_energies, inducing, inducing_species, length_scale)
    evidence = Evidence(obs)
    hyper = optimise_hyperparameters(evidence, config.hyperparameters) if config.optimise else dict(config.hyperparameters)
    return Candidate(length_scale, obs, evidence, hyper, evidence.log_likelihood(**hyper))


def potential_from_fit(species, self_energies, inducing, inducing_species, fit: Candidate) -> GaussianProcessPotential:
    factor, mean = fit.evidence.posterior(**fit.hyperparameters)
    # f(q) = k(q, Q) U Λ^-½ β̄; for a kernel row φ, σ² = |F⁻¹ (U Λ^-½)ᵀ φ|² with A = F Fᵀ
    posterior = scipy.linalg.solve_triangular(factor, fit.observations.whitening.T, lower=True).T
    if not np.isfinite(posterior).all():
        raise EsmlError("the GP fit failed numerically; check the training data for duplicated or broken frames")
    hyper = {**{k: float(v) for k, v in fit.hyperparameters.items()}, "log_likelihood": float(fit.log_likelihood)}
    model = GaussianProcessPotential(species, length_scale=fit.length_scale, n_inducing=len(inducing), rank=posterior.shape[1],
                                     hyperparameters=hyper, self_energies=self_energies.tolist())
    model.inducing.copy_(inducing)
    model.inducing_species.copy_(inducing_species)
    model.weights.copy_(torch.from_numpy(fit.observations.whitening @ mean))
    model.posterior.copy_(torch.from_numpy(posterior))
    return model.eval()
