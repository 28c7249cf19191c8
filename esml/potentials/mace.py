"""A MACE-class potential: higher-order equivariant messages with many-body features
(Batatia, Kovács, Simm, Ortner, Csányi, NeurIPS 2022), written on e3nn's irreducible representations.

Each atom carries features h of irreps ``features × (0e + 1o)`` (scalars and vectors). One layer:

1. **Atomic basis.** A_i = Σ_j R(r_ij) · (W h_j ⊗ Y(r̂_ij)) / ⟨n_neighbours⟩: each channel of the
   neighbour's features is coupled to the spherical harmonics of the bond up to ``l_max``, weighted
   by a radial MLP of a Bessel basis under a polynomial envelope (smooth to the second derivative
   at the cutoff, so MD conserves energy). A holds every l ≤ ``l_max`` per channel.
2. **Many-body product.** B_i = Σ_ν Σ_paths w_{Z_i} · U_ν (A_i ⊗ … ⊗ A_i), ν = 1…``correlation``, channel
   by channel: a product of ν atomic bases is a (ν + 1)-body feature, so one layer sees angles and
   dihedrals that pairwise messages see only after several layers. This is ACE's product basis and
   MACE's symmetric contraction: U_ν couples the symmetric ν-fold product of a channel's A to each
   output irrep (generalised Clebsch–Gordan coefficients, from e3nn's ``ReducedTensorProducts``),
   and the weights depend on the atom's element. Each order is one fixed matrix times the distinct
   monomials of A: a few large tensor operations instead of many small ones.
3. **Update.** h_i ← Linear(B_i) + Linear(h_i ⊗ onehot(Z_i)): a residual that keeps the previous layer.

The energy of an atom is the sum of every layer's readout of its scalars (linear for all layers
but the last, a small MLP for the last). Rotations act on all features by Wigner matrices, so the
energy is invariant and the forces (by autograd) rotate with the structure.
"""

from __future__ import annotations

import functools
import itertools
import math
from collections.abc import Sequence

import numpy as np
import torch
from e3nn import o3
from e3nn.nn import FullyConnectedNet
from torch import nn

from esml.graph import AtomicGraph, neighbour_pairs
from esml.potential import ExactBuffers, Potential
from esml.potentials.painn import sinc_basis


def bessel_basis(distances: torch.Tensor, n_basis: int, cutoff: float) -> torch.Tensor:
    """√(2/r_c) sin(nπ r / r_c) / r, n = 1…n_basis: PaiNN's basis, normalised on [0, r_c]."""
    return math.sqrt(2.0 / cutoff) * sinc_basis(distances, n_basis, cutoff)


def polynomial_envelope(distances: torch.Tensor, cutoff: float, p: int = 5) -> torch.Tensor:
    """1 at r = 0, going to 0 at the cutoff with p continuous derivatives (DimeNet's envelope)."""
    x = distances / cutoff
    value = (1.0 - (p + 1) * (p + 2) / 2 * x ** p + p * (p + 2) * x ** (p + 1) - p * (p + 1) / 2 * x ** (p + 2))
    return torch.where(x < 1.0, value, torch.zeros_like(value))


def convolution_paths(features: o3.Irreps, harmonics: o3.Irreps, keep: o3.Irreps) -> tuple[o3.Irreps, list[tuple]]:
    """Every path from a channel block of ``features`` and an irrep of the bond's ``harmonics`` to an
    irrep in ``keep``, each with its own output block ('uvu': channel by channel, one weight per
    channel and path). Returns (irreps out, e3nn instructions)."""
    outputs, instructions = [], []
    for i, (mul, feature) in enumerate(features):
        for j, (_, harmonic) in enumerate(harmonics):
            for out in feature * harmonic:
                if out in keep:
                    instructions.append((i, j, len(outputs), "uvu", True))
                    outputs.append((mul, out))
    return o3.Irreps(outputs), instructions


class Interaction(nn.Module):
    """The atomic basis A_i of one layer from the features of the neighbours."""

    def __init__(self, features_in: o3.Irreps, harmonics: o3.Irreps, basis_out: o3.Irreps, n_basis: int,
                 radial_hidden: int, mean_neighbours: float):
        super().__init__()
        self.mean_neighbours = mean_neighbours
        self.up = o3.Linear(features_in, features_in)
        outputs, instructions = convolution_paths(features_in, harmonics, basis_out)
        self.convolution = o3.TensorProduct(features_in, harmonics, outputs, instructions,
                                            shared_weights=False, internal_weights=False)
        self.radial = FullyConnectedNet([n_basis, radial_hidden, radial_hidden, self.convolution.weight_numel], torch.nn.functional.silu)
        self.down = o3.Linear(self.convolution.irreps_out, basis_out)

    def forward(self, h, edges, harmonics, radial_basis):
        i, j = edges
        messages = self.convolution(self.up(h)[j], harmonics, self.radial(radial_basis))
        summed = messages.new_zeros(h.shape[0], messages.shape[1]).index_add(0, i, messages)
        return self.down(summed / self.mean_neighbours)


@functools.lru_cache
def symmetric_coupling(l_max: int, order: int, outputs: str) -> tuple[o3.Irreps, torch.Tensor]:
    """The symmetric ``order``-fold product of one channel's atomic basis (irreps 0e + 1o + 2e + … to
    ``l_max``, dimension d) reduced to the irreps of ``outputs`` (e.g. "0e+1o"): (the irreps found,
    the change of basis, float64, shape (their dimension, d, …, d)). Computed once per process."""
    single = o3.Irreps([(1, (l, (-1) ** l)) for l in range(l_max + 1)])
    if order == 1:
        return single, torch.eye(single.dim, dtype=torch.float64)
    indices = "abcdefgh"[:order]
    # a transposition and a cycle generate every permutation: the product is fully symmetric
    formula = "=".join([indices, indices[1] + indices[0] + indices[2:], indices[1:] + indices[0]])
    previous = torch.get_default_dtype()
    torch.set_default_dtype(torch.float64)  # e3nn solves for the coefficients in the default precision
    try:
        reduced = o3.ReducedTensorProducts(formula, filter_ir_out=[irrep for _, irrep in o3.Irreps(outputs)],
                                           **{index: single for index in indices})
    finally:
        torch.set_default_dtype(previous)
    return reduced.irreps_out, reduced.change_of_basis


def folded_coupling(l_max: int, order: int, irreps_out: o3.Irreps) -> tuple[torch.Tensor, torch.Tensor, list[int]]:
    """The coupling of ``order`` copies of a channel's A to each irrep of ``irreps_out``, on the
    distinct monomials A_a A_b … (a ≤ b ≤ …) only: (their indices (order, K), the coupling (Σ M ×
    paths, K) float64, rows irrep by irrep and within one m-major, the number of paths per irrep).
    The coupling is symmetric in its inputs, so each monomial's column sums its permutations'."""
    width = (l_max + 1) ** 2
    irreps, change = symmetric_coupling(l_max, order, str(irreps_out.sort().irreps.simplify()))
    rows, counts = [], []
    for _, irrep in irreps_out:
        # (paths, M, d, …, d): every copy of this irrep in the reduced product
        paths = [change[irreps.slices()[k]].reshape(copies, irrep.dim, *change.shape[1:])
                 for k, (copies, other) in enumerate(irreps) if other == irrep]
        paths = torch.cat(paths) if paths else change.new_zeros(0, irrep.dim, *change.shape[1:])
        rows.append(paths.transpose(0, 1).reshape(irrep.dim * len(paths), -1))  # (M × paths, d^order)
        counts.append(len(paths))
    monomials = list(itertools.combinations_with_replacement(range(width), order))
    columns = [int(np.ravel_multi_index(monomial, (width,) * order)) for monomial in monomials]
    permutations = torch.tensor([math.factorial(order) / math.prod(math.factorial(monomial.count(a)) for a in set(monomial))
                                 for monomial in monomials], dtype=torch.float64)
    return torch.tensor(monomials).T.contiguous(), torch.cat(rows)[:, columns] * permutations, counts


class SymmetricContraction(ExactBuffers):
    """MACE's product basis: for each irrep of ``irreps_out`` (``channels`` copies of it) and each
    order ν ≤ ``correlation``, every coupling path of ν copies of a channel's A to that irrep, with
    weights per element, path and channel.

    The symmetric product of ν copies has one distinct component per monomial A_a A_b … (a ≤ b ≤ …),
    so each order is one fixed matrix (M × paths, K) times the monomials (K, atoms × channels): the
    coupling folded over the permutations of each monomial. The element's weights then mix the paths.
    Components lie along the first axis, so gathering them copies whole rows. The couplings stay
    float64 whatever the weights' precision (rounded to float32 they break equivariance at 1e-7)."""

    def __init__(self, l_max: int, channels: int, irreps_out: o3.Irreps, correlation: int, n_species: int):
        super().__init__()
        if any(mul != channels for mul, _ in irreps_out):
            raise ValueError(f"each output irrep needs {channels} channels, one per channel of the atomic basis")
        self.irreps_out, self.correlation = irreps_out, correlation
        self.paths: list[list[int]] = []  # [order][irrep of irreps_out]: how many coupling paths
        self.weights = nn.ParameterList()
        for order in range(1, correlation + 1):
            monomials, coupling, counts = folded_coupling(l_max, order, irreps_out)
            self.register_buffer(f"monomials_{order}", monomials, persistent=False)
            self.register_exact_buffer(f"coupling_{order}", coupling, persistent=False)  # constants of the model, not weights
            self.paths.append(counts)
            self.weights.extend(nn.Parameter(torch.randn(n_species, count, channels) / max(1, count)) for count in counts)

    def forward(self, basis: torch.Tensor, onehot: torch.Tensor) -> torch.Tensor:
        """``basis`` (atoms, channels, d): each channel's A as irreps 0e + 1o + …; ``onehot`` (atoms,
        elements) → (atoms, irreps_out.dim)."""
        atoms, channels = basis.shape[:2]
        components = basis.reshape(atoms * channels, -1).T  # (d, atoms × channels)
        blocks = [0.0] * len(self.irreps_out)
        for order in range(1, self.correlation + 1):
            monomials = getattr(self, f"monomials_{order}")
            products = components[monomials[0]]
            for k in range(1, order):
                products = products * components[monomials[k]]
            coupled = getattr(self, f"coupling_{order}").to(products.dtype) @ products  # (Σ M × paths, atoms × channels)
            start = 0
            for index, ((_, irrep), paths) in enumerate(zip(self.irreps_out, self.paths[order - 1])):
                block = coupled[start:start + irrep.dim * paths].reshape(irrep.dim, paths, atoms, channels)
                start += irrep.dim * paths
                weights = onehot @ self.weights[(order - 1) * len(self.irreps_out) + index].flatten(1)  # each atom's element's
                blocks[index] = blocks[index] + (block * weights.view(atoms, paths, channels).transpose(0, 1)).sum(1)
        return torch.cat([block.permute(1, 2, 0).reshape(atoms, -1) for block in blocks], dim=1)


class Product(nn.Module):
    """h_i from the atomic basis: the symmetric contraction of A up to ``correlation``, a linear map,
    plus the residual of the previous features."""

    def __init__(self, basis: o3.Irreps, features_in: o3.Irreps, features_out: o3.Irreps, correlation: int, n_species: int):
        super().__init__()
        self.channels, self.l_max = basis[0].mul, basis.lmax
        self.contraction = SymmetricContraction(self.l_max, self.channels, features_out, correlation, n_species)
        self.linear = o3.Linear(features_out, features_out)
        self.residual = o3.FullyConnectedTensorProduct(features_in, o3.Irreps(f"{n_species}x0e"), features_out)

    def forward(self, basis: torch.Tensor, h: torch.Tensor, onehot: torch.Tensor) -> torch.Tensor:
        return self.linear(self.contraction(self.per_channel(basis), onehot)) + self.residual(h, onehot)

    def per_channel(self, basis: torch.Tensor) -> torch.Tensor:
        """(atoms, channels, d) from e3nn's layout, which holds every channel's l = 0, then every channel's l = 1, …"""
        blocks = [basis[:, l * l * self.channels:(l + 1) ** 2 * self.channels].reshape(len(basis), self.channels, 2 * l + 1)
                  for l in range(self.l_max + 1)]
        return torch.cat(blocks, dim=2)


class MACEPotential(Potential):
    """MACE-class potential: ``features`` channels of irreps ``0e + 1o`` per atom, ``layers``
    interactions, spherical harmonics to ``l_max``, many-body products to ``correlation``, radial
    MLP of ``n_basis`` Bessel functions inside ``cutoff`` Å. ``mean_neighbours`` normalises the
    sum over neighbours (set from the training frames)."""

    kind = "mace"

    def __init__(self, species: Sequence[int], *, features: int = 32, layers: int = 2, l_max: int = 2, correlation: int = 3,
                 n_basis: int = 8, radial_hidden: int = 64, readout_hidden: int = 16, cutoff: float = 5.0,
                 mean_neighbours: float = 10.0, self_energies: Sequence[float] | None = None, energy_scale: float = 1.0):
        super().__init__(species, self_energies, energy_scale)
        if min(features, layers, correlation, n_basis, radial_hidden, readout_hidden) < 1 or l_max < 1 or not cutoff > 0:
            raise ValueError("features, layers, correlation, n_basis and hidden sizes must be ≥ 1, l_max ≥ 1, cutoff > 0")
        self.settings = dict(features=features, layers=layers, l_max=l_max, correlation=correlation, n_basis=n_basis,
                             radial_hidden=radial_hidden, readout_hidden=readout_hidden, cutoff=cutoff,
                             mean_neighbours=float(mean_neighbours))
        self.cutoff, self.n_basis = cutoff, n_basis
        n_species = len(self.species)
        self.harmonics = o3.SphericalHarmonics(o3.Irreps.spherical_harmonics(l_max), normalize=True, normalization="component")
        basis = o3.Irreps([(features, (l, (-1) ** l)) for l in range(l_max + 1)])
        hidden = o3.Irreps(f"{features}x0e + {features}x1o")
        scalars = o3.Irreps(f"{features}x0e")
        self.embedding = o3.Linear(o3.Irreps(f"{n_species}x0e"), scalars)
        self.interactions, self.products, self.readouts = nn.ModuleList(), nn.ModuleList(), nn.ModuleList()
        features_in = scalars
        for layer in range(layers):
            last = layer == layers - 1
            features_out = scalars if last else hidden  # the last layer's vectors would feed nothing
            self.interactions.append(Interaction(features_in, self.harmonics.irreps_out, basis, n_basis, radial_hidden, mean_neighbours))
            self.products.append(Product(basis, features_in, features_out, correlation, n_species))
            self.readouts.append(Readout(features_out, features, readout_hidden if last else None))
            features_in = features_out

    def config(self) -> dict:
        return {**super().config(), **self.settings}

    @classmethod
    def settings_from_data(cls, frames: Sequence, options: dict) -> dict:
        """The mean neighbour count of the training frames: the sum over neighbours is divided by
        its typical size, so that the features start at order one."""
        if "mean_neighbours" in options:
            return {}
        cutoff = options.get("cutoff", cls.__init__.__kwdefaults__["cutoff"])
        counts = [neighbour_pairs(atoms, cutoff)[0].shape[1] for atoms in frames]
        return {"mean_neighbours": max(1.0, sum(counts) / sum(len(atoms) for atoms in frames))}

    def __deepcopy__(self, memo):
        # e3nn's tensor products are compiled torch.fx modules, and a deep copy of those registers
        # their constants as extra state; a copy rebuilt from the settings has the original's keys.
        clone = type(self)(**self.config()).to(next(self.parameters()).dtype)
        clone.load_state_dict(self.state_dict())
        for mine, theirs in zip(clone.parameters(), self.parameters()):
            mine.requires_grad_(theirs.requires_grad)
        return clone.train(self.training)

    def atomic_energies(self, graph: AtomicGraph, species: torch.Tensor, vectors: torch.Tensor) -> torch.Tensor:
        distances = vectors.norm(dim=1)
        inside = torch.nonzero(distances < self.cutoff).squeeze(1)
        edges, vectors, distances = graph.edges[:, inside], vectors[inside], distances[inside]
        harmonics = self.harmonics(vectors)
        radial = bessel_basis(distances, self.n_basis, self.cutoff) * polynomial_envelope(distances, self.cutoff).unsqueeze(1)
        onehot = nn.functional.one_hot(species, len(self.species)).to(vectors.dtype)
        h = self.embedding(onehot)
        energy = vectors.new_zeros(h.shape[0])
        for interaction, product, readout in zip(self.interactions, self.products, self.readouts):
            basis = interaction(h, edges, harmonics, radial)
            h = product(basis, h, onehot)
            energy = energy + readout(h)
        return energy.unsqueeze(0)


class Readout(nn.Module):
    """A layer's energy contribution from its scalar channels: linear, or an MLP of ``hidden`` units;
    the last weights start at zero, so training starts from the reference energies."""

    def __init__(self, features: o3.Irreps, n_scalars: int, hidden: int | None):
        super().__init__()
        self.n_scalars = n_scalars
        layers = [nn.Linear(n_scalars, 1)] if hidden is None else [nn.Linear(n_scalars, hidden), nn.SiLU(), nn.Linear(hidden, 1)]
        self.network = nn.Sequential(*layers)
        nn.init.zeros_(self.network[-1].weight)
        nn.init.zeros_(self.network[-1].bias)

    def forward(self, h: torch.Tensor) -> torch.Tensor:
        return self.network(h[:, :self.n_scalars]).squeeze(1)
