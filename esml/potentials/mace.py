"""A MACE-class potential: higher-order equivariant messages with many-body features
(Batatia, Kovács, Simm, Ortner, Csányi, NeurIPS 2022), written on e3nn's irreducible representations.

Each atom carries features h of irreps ``features × (0e + 1o)`` (scalars and vectors). One layer:

1. **Atomic basis.** A_i = Σ_j R(r_ij) · (W h_j ⊗ Y(r̂_ij)) / ⟨n_neighbours⟩: each channel of the
   neighbour's features is coupled to the spherical harmonics of the bond up to ``l_max``, weighted
   by a radial MLP of a Bessel basis under a polynomial envelope (smooth to the second derivative
   at the cutoff, so MD conserves energy). A holds every l ≤ ``l_max`` per channel.
2. **Many-body product.** B_i = (A_i, A_i ⊗ A_i, A_i ⊗ A_i ⊗ A_i) up to ``correlation``, coupled
   channel by channel ("uuu" paths): a product of ν atomic bases is a (ν + 1)-body feature, so one
   layer sees angles and dihedrals that pairwise messages see only after several layers. This is
   ACE's product basis; MACE contracts it with symmetrised Clebsch–Gordan tensors, this does the
   same contraction as a chain of e3nn tensor products (same function space, weights per path).
3. **Update.** h_i ← Linear_{Z_i}(B_i) + Linear(h_i ⊗ onehot(Z_i)): element-dependent weights on the
   product and a residual that keeps the previous layer.

The energy of an atom is the sum of every layer's readout of its scalars (linear for all layers
but the last, a small MLP for the last). Rotations act on all features by Wigner matrices, so the
energy is invariant and the forces (by autograd) rotate with the structure.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import torch
from e3nn import o3
from e3nn.nn import FullyConnectedNet
from torch import nn

from esml.graph import AtomicGraph, neighbour_pairs
from esml.potential import Potential
from esml.potentials.painn import sinc_basis


def bessel_basis(distances: torch.Tensor, n_basis: int, cutoff: float) -> torch.Tensor:
    """√(2/r_c) sin(nπ r / r_c) / r, n = 1…n_basis: PaiNN's basis, normalised on [0, r_c]."""
    return math.sqrt(2.0 / cutoff) * sinc_basis(distances, n_basis, cutoff)


def polynomial_envelope(distances: torch.Tensor, cutoff: float, p: int = 5) -> torch.Tensor:
    """1 at r = 0, going to 0 at the cutoff with p continuous derivatives (DimeNet's envelope)."""
    x = distances / cutoff
    value = (1.0 - (p + 1) * (p + 2) / 2 * x ** p + p * (p + 2) * x ** (p + 1) - p * (p + 1) / 2 * x ** (p + 2))
    return torch.where(x < 1.0, value, torch.zeros_like(value))


def coupling_paths(left: o3.Irreps, right: o3.Irreps, keep, mode: str, weighted: bool,
                   symmetric: bool = False) -> tuple[o3.Irreps, list[tuple]]:
    """Every path (i, j) → irrep of ``left ⊗ right`` whose output ``keep(irrep)`` accepts, each with
    the multiplicity of its ``left`` block and its own output block; ``symmetric`` (the square of one
    feature) keeps one of (i, j) and (j, i), which span the same outputs. Returns (irreps out, e3nn instructions)."""
    outputs, instructions = [], []
    for i, (mul, left_irrep) in enumerate(left):
        for j, (_, right_irrep) in enumerate(right):
            if symmetric and j < i:
                continue
            for out in left_irrep * right_irrep:
                if keep(out):
                    instructions.append((i, j, len(outputs), mode, weighted))
                    outputs.append((mul, out))
    return o3.Irreps(outputs), instructions


def channelwise_product(left: o3.Irreps, right: o3.Irreps, keep, symmetric: bool = False) -> o3.TensorProduct:
    """The tensor product of two irreps of equal multiplicity, channel by channel ('uuu', no weights)."""
    return o3.TensorProduct(left, right, *coupling_paths(left, right, keep, "uuu", False, symmetric))


class Interaction(nn.Module):
    """The atomic basis A_i of one layer from the features of the neighbours."""

    def __init__(self, features_in: o3.Irreps, harmonics: o3.Irreps, basis_out: o3.Irreps, n_basis: int,
                 radial_hidden: int, mean_neighbours: float):
        super().__init__()
        self.mean_neighbours = mean_neighbours
        self.up = o3.Linear(features_in, features_in)
        outputs, instructions = coupling_paths(features_in, harmonics, lambda irrep: irrep in basis_out, "uvu", True)
        self.convolution = o3.TensorProduct(features_in, harmonics, outputs, instructions,
                                            shared_weights=False, internal_weights=False)
        self.radial = FullyConnectedNet([n_basis, radial_hidden, radial_hidden, self.convolution.weight_numel], torch.nn.functional.silu)
        self.down = o3.Linear(self.convolution.irreps_out, basis_out)

    def forward(self, h, edges, harmonics, radial_basis):
        i, j = edges
        messages = self.convolution(self.up(h)[j], harmonics, self.radial(radial_basis))
        summed = messages.new_zeros(h.shape[0], messages.shape[1]).index_add(0, i, messages)
        return self.down(summed / self.mean_neighbours)


class Product(nn.Module):
    """h_i from the atomic basis: products of A up to ``correlation``, contracted with weights of the
    atom's element, plus the residual of the previous features."""

    def __init__(self, basis: o3.Irreps, features_in: o3.Irreps, features_out: o3.Irreps, correlation: int, n_species: int):
        super().__init__()
        l_max = basis.lmax
        self.powers = nn.ModuleList()
        power = basis
        for _ in range(correlation - 1):  # intermediates keep every l ≤ l_max, of either parity
            last = len(self.powers) == correlation - 2
            keep = (lambda irrep: irrep in features_out) if last else (lambda irrep: irrep.l <= l_max)
            product = channelwise_product(power, basis, keep, symmetric=power is basis)
            self.powers.append(product)
            power = product.irreps_out
        self.terms = [basis] + [product.irreps_out for product in self.powers]  # A, A⊗A, A⊗A⊗A, ...
        self.kept = [[index for index, (_, irrep) in enumerate(irreps) if irrep in features_out] for irreps in self.terms]
        concatenated = o3.Irreps([irreps[index] for irreps, kept in zip(self.terms, self.kept) for index in kept])
        self.contractions = nn.ModuleList(o3.Linear(concatenated, features_out) for _ in range(n_species))
        self.residual = o3.FullyConnectedTensorProduct(features_in, o3.Irreps(f"{n_species}x0e"), features_out)

    def forward(self, basis: torch.Tensor, h: torch.Tensor, onehot: torch.Tensor, species: torch.Tensor) -> torch.Tensor:
        powers = [basis]
        for product in self.powers:
            powers.append(product(powers[-1], basis))
        b = torch.cat([value[:, irreps.slices()[index]] for value, irreps, kept in zip(powers, self.terms, self.kept)
                       for index in kept], dim=1)
        contracted = b.new_zeros(b.shape[0], self.contractions[0].irreps_out.dim)
        for element, contraction in enumerate(self.contractions):
            mask = species == element
            contracted = contracted.index_put((mask,), contraction(b[mask]))
        return contracted + self.residual(h, onehot)


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
            h = product(basis, h, onehot, species)
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
