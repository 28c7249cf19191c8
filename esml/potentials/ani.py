"""ANI-style high-dimensional neural network potential (Behler–Parrinello with ANI's AEVs).

Atomic environment vectors (Smith, Isayev, Roitberg, Chem. Sci. 2017), per atom i:

    radial   G_R = 0.25 exp(-η_R (r_ij - R_s)²) f_c(r_ij)                        summed per element of j
    angular  G_A = 2 ((1 + cos(θ'_ijk - θ_s)) / 2)^ζ exp(-η_A ((r_ij + r_ik)/2 - R_s)²) f_c(r_ij) f_c(r_ik)
                                                                                  summed per element pair (j, k)
with cos θ' = 0.95 cos θ_ijk (ANI's smoothing) and f_c(r) = (1 + cos(π r / R_c)) / 2.
Defaults are ANI-2x's hyperparameters and element network sizes; one MLP per element
(CELU, α = 0.1) maps the AEV to the atom's energy.

Ensemble members are stored as a leading dimension of every weight, so a 4-member ensemble
computes its AEVs once and runs its networks as batched matrix products.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field

import torch
from torch import nn

from esml.graph import AtomicGraph
from esml.potential import Potential


def _linspace_open(start: float, stop: float, n: int) -> list[float]:
    return [start + (stop - start) * k / n for k in range(n)]


@dataclass(frozen=True)
class AEVParameters:
    """Symmetry-function hyperparameters (Å); defaults are ANI-2x's."""

    radial_cutoff: float = 5.1
    angular_cutoff: float = 3.5
    radial_eta: float = 19.7
    angular_eta: float = 12.5
    zeta: float = 14.1
    radial_shifts: list[float] = field(default_factory=lambda: _linspace_open(0.8, 5.1, 16))
    angular_shifts: list[float] = field(default_factory=lambda: _linspace_open(0.8, 3.5, 8))
    angle_sections: list[float] = field(default_factory=lambda: [(2 * k + 1) * math.pi / 8 for k in range(4)])


#: ANI-2x's hidden layers per element; other elements get DEFAULT_HIDDEN.
ANI2X_HIDDEN = {1: [256, 192, 160], 6: [224, 192, 160], 7: [192, 160, 128], 8: [192, 160, 128],
                9: [160, 128, 96], 16: [160, 128, 96], 17: [160, 128, 96]}
DEFAULT_HIDDEN = [160, 128, 96]


def cosine_cutoff(distances: torch.Tensor, cutoff: float) -> torch.Tensor:
    return 0.5 * torch.cos(distances * (math.pi / cutoff)) + 0.5


def pairs_sharing_centre(centres: torch.Tensor, n_atoms: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Every unordered pair (a, b) of list entries with the same centre, as two index tensors."""
    if centres.numel() == 0:
        empty = centres.new_zeros(0)
        return empty, empty
    order = torch.argsort(centres, stable=True)
    counts = torch.bincount(centres, minlength=n_atoms)
    most = int(counts.max())
    first, second = torch.triu_indices(most, most, 1)
    starts = torch.cumsum(counts, 0) - counts
    valid = second.unsqueeze(0) < counts.unsqueeze(1)
    return order[(starts.unsqueeze(1) + first)[valid]], order[(starts.unsqueeze(1) + second)[valid]]


class AEVComputer(nn.Module):
    """Graph -> AEVs (n_atoms, n_species·n_radial + n_pairs·n_angular·n_sections)."""

    def __init__(self, n_species: int, parameters: AEVParameters):
        super().__init__()
        self.parameters_ = parameters
        self.n_species = n_species
        self.register_buffer("radial_shifts", torch.tensor(parameters.radial_shifts), persistent=False)
        self.register_buffer("angular_shifts", torch.tensor(parameters.angular_shifts), persistent=False)
        sections = torch.tensor(parameters.angle_sections)
        self.register_buffer("section_cos", torch.cos(sections), persistent=False)
        self.register_buffer("section_sin", torch.sin(sections), persistent=False)
        pair = torch.zeros(n_species, n_species, dtype=torch.int64)
        first, second = torch.triu_indices(n_species, n_species)
        pair[first, second] = torch.arange(first.numel())
        pair[second, first] = torch.arange(first.numel())
        self.register_buffer("pair_index", pair, persistent=False)
        self.n_pairs = first.numel()
        self.radial_length = n_species * len(parameters.radial_shifts)
        self.angular_terms = len(parameters.angular_shifts) * len(parameters.angle_sections)
        self.length = self.radial_length + self.n_pairs * self.angular_terms

    def forward(self, graph: AtomicGraph, species: torch.Tensor, vectors: torch.Tensor) -> torch.Tensor:
        n_atoms = species.numel()
        centres, neighbours = graph.edges
        a, b, pairs = self.angular_triplets(graph, species, vectors.detach().norm(dim=1), n_atoms)
        radial = scatter(self.radial_terms(vectors), centres * self.n_species + species[neighbours], n_atoms * self.n_species)
        angular = scatter(self.angular_terms_of(vectors[a], vectors[b]), centres[a] * self.n_pairs + pairs, n_atoms * self.n_pairs)
        return torch.cat([radial.reshape(n_atoms, self.radial_length), angular.reshape(n_atoms, -1)], dim=1)

    def jacobian(self, graph: AtomicGraph, species: torch.Tensor, vectors: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """AEVs (n_atoms, D) and their derivatives with respect to positions (n_atoms, D, 3 n_atoms).

        A radial term depends on one edge vector and an angular term on two, so forward mode with
        one tangent per vector component (3 and 6 passes) gives every term's derivatives at once;
        the chain rule through r_ij = r_j - r_i then places them. Forward mode over all 3 n_atoms
        position tangents cost 20× more on a 63-atom water box."""
        n_atoms, width = species.numel(), self.length
        centres, neighbours = graph.edges
        a, b, pairs = self.angular_triplets(graph, species, vectors.norm(dim=1), n_atoms)
        jacobian = vectors.new_zeros(n_atoms * width * n_atoms, 3)

        def place(derivative: torch.Tensor, feature: torch.Tensor, centre: torch.Tensor, atom: torch.Tensor) -> None:
            """Add ∂(term k of row t)/∂r_atom = derivative[:, k, t] to ∂q[centre, feature]/∂r_atom, and its
            negative to ∂q[centre, feature]/∂r_centre (r_ij = r_j - r_i)."""
            rows = (centre * width + feature) * n_atoms
            values = derivative.permute(1, 2, 0).reshape(-1, 3)
            jacobian.index_add_(0, (rows + atom).reshape(-1), values)
            jacobian.index_add_(0, (rows + centre).reshape(-1), -values)

        radial_index = torch.arange(len(self.radial_shifts)).unsqueeze(1)
        (radial_derivative,) = row_derivatives(self.radial_terms, (vectors,))
        place(radial_derivative, species[neighbours] * len(self.radial_shifts) + radial_index, centres, neighbours)
        angular_index = torch.arange(self.angular_terms).unsqueeze(1)
        feature = self.radial_length + pairs * self.angular_terms + angular_index
        derivative_a, derivative_b = row_derivatives(self.angular_terms_of, (vectors[a], vectors[b]))
        place(derivative_a, feature, centres[a], neighbours[a])
        place(derivative_b, feature, centres[a], neighbours[b])
        with torch.no_grad():
            aev = self(graph, species, vectors)
        return aev, jacobian.reshape(n_atoms, width, 3 * n_atoms)

    # Terms are laid out (n_shifts, n_pairs): one long row per shift. With the pairs along the
    # short inner dimension instead, PyTorch's CPU kernels for these products and their
    # gradients are four times slower.

    def radial_terms(self, vectors: torch.Tensor) -> torch.Tensor:
        """(n_radial_shifts, n_edges): each edge's radial terms."""
        p = self.parameters_
        distances = vectors.norm(dim=1)
        # a mask, not a gather: the graph is built with this cutoff, so nearly every edge is inside
        weight = torch.where(distances < p.radial_cutoff, 0.25 * cosine_cutoff(distances, p.radial_cutoff), 0.0)
        return torch.exp(-p.radial_eta * (distances - self.radial_shifts.unsqueeze(1)) ** 2) * weight

    def angular_triplets(self, graph: AtomicGraph, species: torch.Tensor, distances: torch.Tensor,
                         n_atoms: int) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """Edge pairs (a, b) sharing a centre, both inside the angular cutoff, and the element pair of
        their neighbours (an index into the AEV's angular blocks)."""
        keep = torch.nonzero(distances < self.parameters_.angular_cutoff).squeeze(1)
        a, b = pairs_sharing_centre(graph.edges[0, keep], n_atoms)
        neighbours = graph.edges[1]
        return keep[a], keep[b], self.pair_index[species[neighbours[keep[a]]], species[neighbours[keep[b]]]]

    def angular_terms_of(self, vector_a: torch.Tensor, vector_b: torch.Tensor) -> torch.Tensor:
        """(n_angular_shifts · n_sections, n_triplets): each triplet's angular terms from its two edge vectors."""
        p = self.parameters_
        da, db = vector_a.norm(dim=1), vector_b.norm(dim=1)
        cos = 0.95 * (vector_a * vector_b).sum(1) / (da * db)
        sin = torch.sqrt(1.0 - cos * cos)  # 0.95 keeps this away from 0, so its gradient is finite
        shifted = self.section_cos.unsqueeze(1) * cos + self.section_sin.unsqueeze(1) * sin
        angle_part = ((1.0 + shifted) * 0.5).clamp(min=0.0) ** p.zeta
        # constants and cutoffs go on the small (shifts, triplets) factor, not on the product
        weight = 2.0 * cosine_cutoff(da, p.angular_cutoff) * cosine_cutoff(db, p.angular_cutoff)
        radial_part = torch.exp(-p.angular_eta * ((da + db) * 0.5 - self.angular_shifts.unsqueeze(1)) ** 2) * weight
        return (radial_part.unsqueeze(1) * angle_part.unsqueeze(0)).reshape(self.angular_terms, -1)


def scatter(terms: torch.Tensor, slots: torch.Tensor, n_slots: int) -> torch.Tensor:
    """Terms (K, n_rows) summed into slots: (n_slots, K)."""
    return terms.new_zeros(terms.shape[0], n_slots).index_add(1, slots, terms).t()


def row_derivatives(function, inputs: tuple[torch.Tensor, ...]) -> list[torch.Tensor]:
    """For each (T, 3) input, ∂function(inputs)[k, t]/∂input[t, axis] as (3, K, T), where column t of
    the (K, T) output depends only on row t of each input: a tangent that moves every row along one
    axis then yields all T columns' derivatives in one forward-mode pass. The passes run batched
    (``vmap``): one by one, PyTorch's per-call overhead made them 5× slower on ethanol."""
    n_inputs = len(inputs)
    directions = torch.eye(3 * n_inputs, dtype=inputs[0].dtype).reshape(3 * n_inputs, n_inputs, 3)
    tangents = [directions[:, n].unsqueeze(1).expand(-1, len(x), 3) for n, x in enumerate(inputs)]
    derivatives = torch.func.vmap(lambda *tangent: torch.func.jvp(function, inputs, tangent)[1])(*tangents)
    return list(derivatives.unflatten(0, (n_inputs, 3)))


class MemberLinear(nn.Module):
    """A linear layer with one weight matrix per ensemble member: (members, n, in) -> (members, n, out)."""

    def __init__(self, members: int, n_in: int, n_out: int):
        super().__init__()
        bound = 1.0 / math.sqrt(n_in)  # nn.Linear's default initialisation
        self.weight = nn.Parameter(torch.empty(members, n_in, n_out).uniform_(-bound, bound))
        self.bias = nn.Parameter(torch.empty(members, 1, n_out).uniform_(-bound, bound))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.baddbmm(self.bias, x, self.weight)


def element_network(members: int, n_in: int, hidden: Sequence[int]) -> nn.Sequential:
    sizes = [n_in, *hidden]
    layers: list[nn.Module] = []
    for n_in_, n_out in zip(sizes[:-1], sizes[1:]):
        layers += [MemberLinear(members, n_in_, n_out), nn.CELU(alpha=0.1)]
    output = MemberLinear(members, sizes[-1], 1)
    nn.init.zeros_(output.weight)  # start from the reference energies, not from noise
    nn.init.zeros_(output.bias)
    return nn.Sequential(*layers, output)


class ANIPotential(Potential):
    """ANI-style potential; ``hidden`` maps an atomic number to its hidden layer sizes."""

    kind = "ani"

    def __init__(self, species: Sequence[int], *, aev: dict | None = None, hidden: dict | None = None,
                 members: int = 1, self_energies: Sequence[float] | None = None, energy_scale: float = 1.0):
        super().__init__(species, self_energies, energy_scale)
        self.aev_parameters = AEVParameters(**(aev or {}))
        self.cutoff = self.aev_parameters.radial_cutoff
        self.hidden = {int(z): list(sizes) for z, sizes in (hidden or {}).items()}
        self.members = members
        self.aev_computer = AEVComputer(len(self.species), self.aev_parameters)
        self.networks = nn.ModuleList(
            element_network(members, self.aev_computer.length, self.hidden_for(z)) for z in self.species
        )

    def hidden_for(self, z: int) -> list[int]:
        return self.hidden.get(z) or ANI2X_HIDDEN.get(z, DEFAULT_HIDDEN)

    @property
    def n_members(self) -> int:
        return self.members

    def config(self) -> dict:
        return {**super().config(), "aev": asdict(self.aev_parameters),
                "hidden": {z: self.hidden_for(z) for z in self.species}, "members": self.members}

    def atomic_energies(self, graph: AtomicGraph, species: torch.Tensor, vectors: torch.Tensor) -> torch.Tensor:
        aev = self.aev_computer(graph, species, vectors)
        indices, outputs = [], []
        for index, network in enumerate(self.networks):
            atoms = torch.nonzero(species == index).squeeze(1)
            if atoms.numel():
                indices.append(atoms)
                outputs.append(network(aev[atoms].expand(self.members, -1, -1)).squeeze(2))
        energies = aev.new_zeros(self.members, species.numel())
        return energies.index_copy(1, torch.cat(indices), torch.cat(outputs, dim=1))

    @classmethod
    def fuse(cls, members: Sequence[ANIPotential]) -> ANIPotential | None:
        """Members with the same shapes and reference energies fused into one batched potential;
        None otherwise."""
        first = members[0]

        def shape(member: ANIPotential) -> dict:
            return {k: v for k, v in member.config().items() if k != "members"}

        if any(shape(m) != shape(first) or not torch.equal(m.self_energies, first.self_energies) for m in members):
            return None
        config = {**first.config(), "members": sum(m.members for m in members)}
        fused = cls(**config, self_energies=first.self_energies.tolist())
        state = {}
        for name, value in first.state_dict().items():
            parts = [m.state_dict()[name] for m in members]
            state[name] = torch.cat(parts) if name.startswith("networks.") else value
        fused.load_state_dict(state)
        return fused
