"""An equivariant model of the Kohn–Sham Hamiltonian in the atomic-orbital basis (the SchNOrb /
PhiSNet / QHNet family), predicting the converged Fock matrix as a correction to the Fock matrix of
PySCF's minao density (a superposition of atomic densities), which holds the kinetic energy, the
nuclei and the atoms' own screening, so the model learns only what bonding changes.

Atom features are irreducible representations of O(3) built by message passing (esml's MACE-class
interaction). Each block of the matrix is then assembled from irreps by Clebsch–Gordan coefficients:
the block of shells l₁, l₂ couples irreps L = |l₁−l₂| … l₁+l₂ of parity (−1)^(l₁+l₂), so a rotated
molecule gives exactly the rotated matrix, with no frame and no augmentation. The diagonal blocks
come from an atom's features, the others from the product of the two atoms' features, scaled by
their distance and coupled to the bond's direction; each off-diagonal block is the mean of the two
orders of the pair, which makes the matrix symmetric and independent of the atoms' numbering.
Blocks of pairs farther apart than ``pair_cutoff`` are the baseline's. Atomic units (Hartree, Bohr).
"""

from __future__ import annotations

import itertools
from collections.abc import Sequence

import torch
from e3nn import o3
from e3nn.nn import FullyConnectedNet, Gate
from torch import nn

from esml.hamiltonians.basis import ElementBasis, pyscf_from_e3nn
from esml.potentials.mace import Interaction, bessel_basis, polynomial_envelope


def block_irreps(rows: ElementBasis, columns: ElementBasis) -> o3.Irreps:
    """The irreps a block of ``rows`` × ``columns`` shells is made of, shell pair by shell pair."""
    return o3.Irreps([(1, (L, (-1) ** (l1 + l2))) for l1 in rows.shells for l2 in columns.shells
                      for L in range(abs(l1 - l2), l1 + l2 + 1)])


def block_expansion(rows: ElementBasis, columns: ElementBasis) -> torch.Tensor:
    """T (irreps dim, rows.size, columns.size): block = x @ T for irreps x of :func:`block_irreps`,
    in PySCF's AO order (e3nn's harmonics turned into PySCF's by :func:`pyscf_from_e3nn`)."""
    expansion = torch.zeros(block_irreps(rows, columns).dim, rows.size, columns.size, dtype=torch.float64)
    start = 0
    for (l1, o1), (l2, o2) in itertools.product(zip(rows.shells, rows.offsets()), zip(columns.shells, columns.offsets())):
        left = torch.from_numpy(pyscf_from_e3nn(l1))
        right = torch.from_numpy(pyscf_from_e3nn(l2))
        for L in range(abs(l1 - l2), l1 + l2 + 1):
            coupling = o3.wigner_3j(l1, l2, L, dtype=torch.float64) * (2 * L + 1) ** 0.5
            # coupling[m1, m2, M] in e3nn's bases; PySCF's functions are e3nn's @ M on each side
            block = torch.einsum("abM,ai,bj->Mij", coupling, left, right)
            expansion[start:start + 2 * L + 1, o1:o1 + 2 * l1 + 1, o2:o2 + 2 * l2 + 1] = block
            start += 2 * L + 1
    return expansion


def hidden_irreps(channels: int) -> o3.Irreps:
    return o3.Irreps(f"{channels}x0e + {channels // 2}x1o + {channels // 4}x2e")


class Layer(nn.Module):
    """One message-passing step with a gated nonlinearity and a residual connection."""

    def __init__(self, hidden: o3.Irreps, harmonics: o3.Irreps, n_basis: int, radial_hidden: int, mean_neighbours: float):
        super().__init__()
        scalars = o3.Irreps([(mul, ir) for mul, ir in hidden if ir.l == 0])
        gated = o3.Irreps([(mul, ir) for mul, ir in hidden if ir.l > 0])
        self.gate = Gate(scalars, [torch.nn.functional.silu], o3.Irreps(f"{gated.num_irreps}x0e"), [torch.sigmoid], gated)
        self.interaction = Interaction(hidden, harmonics, self.gate.irreps_in, n_basis, radial_hidden, mean_neighbours)
        self.residual = o3.Linear(hidden, hidden)

    def forward(self, h, edges, harmonics, radial):
        return self.residual(h) + self.gate(self.interaction(h, edges, harmonics, radial))


def zero_output(*last: nn.Module) -> None:
    """Start a head's output at zero, so an untrained model predicts the baseline itself (random
    blocks would start it far worse, amplified by S⁻¹), while the gradients of ``last`` are not zero."""
    with torch.no_grad():
        for module in last:
            module.weight.zero_()


class DiagonalHead(nn.Module):
    """An atom's own block from its features."""

    def __init__(self, hidden: o3.Irreps, basis: ElementBasis):
        super().__init__()
        out = block_irreps(basis, basis)
        self.product = o3.FullyConnectedTensorProduct(hidden, hidden, out)
        self.linear = o3.Linear(hidden, out)
        zero_output(self.product, self.linear)
        self.register_buffer("expansion", block_expansion(basis, basis).float())

    def forward(self, h):
        blocks = torch.einsum("pk,kab->pab", self.product(h, h) + self.linear(h), self.expansion.to(h.dtype))
        return (blocks + blocks.transpose(1, 2)) / 2


class PairHead(nn.Module):
    """The block between two atoms: the product of their features, each channel scaled by a function
    of their distance, with and without coupling to the bond's direction."""

    def __init__(self, hidden: o3.Irreps, harmonics: o3.Irreps, rows: ElementBasis, columns: ElementBasis,
                 n_basis: int, radial_hidden: int, pair_channels: int):
        super().__init__()
        out = block_irreps(rows, columns)
        small = hidden_irreps(pair_channels)
        middle = small + o3.Irreps(f"{pair_channels // 4}x1e + {pair_channels // 8}x2o")
        self.down = o3.Linear(hidden, small)  # the product of two atoms' features costs the square of their size
        self.product = o3.FullyConnectedTensorProduct(small, small, middle)
        self.radial = FullyConnectedNet([n_basis, radial_hidden, middle.num_irreps], torch.nn.functional.silu)
        self.register_buffer("channel_of", torch.repeat_interleave(torch.arange(middle.num_irreps),
                                                                   torch.tensor([ir.dim for _, ir in middle for _ in range(_)])))
        self.directional = o3.FullyConnectedTensorProduct(middle, harmonics, out)
        self.linear = o3.Linear(middle, out)
        zero_output(self.directional, self.linear)
        self.register_buffer("expansion", block_expansion(rows, columns).float())

    def forward(self, h_rows, h_columns, harmonics, radial):
        middle = self.product(self.down(h_rows), self.down(h_columns)) * self.radial(radial)[:, self.channel_of]
        out = self.directional(middle, harmonics) + self.linear(middle)
        return torch.einsum("pk,kab->pab", out, self.expansion.to(out.dtype))


class HamiltonianModel(nn.Module):
    """Converged Fock matrix minus the minao density's, for molecules of the ``bases``' elements.

    ``cutoff`` (Bohr) bounds the messages, ``pair_cutoff`` (Bohr) the predicted off-diagonal blocks.
    """

    def __init__(self, bases: Sequence[ElementBasis], basis_name: str, method: str, *, channels: int = 32, layers: int = 2,
                 pair_channels: int = 16, n_basis: int = 8, radial_hidden: int = 32, cutoff: float = 9.0,
                 pair_cutoff: float = 12.0, mean_neighbours: float = 8.0):
        super().__init__()
        self.bases = {basis.element: basis for basis in bases}
        self.basis_name, self.method = basis_name, method
        self.options = dict(channels=channels, layers=layers, pair_channels=pair_channels, n_basis=n_basis,
                            radial_hidden=radial_hidden, cutoff=cutoff, pair_cutoff=pair_cutoff, mean_neighbours=mean_neighbours)
        self.cutoff, self.pair_cutoff, self.n_basis = cutoff, pair_cutoff, n_basis
        elements = sorted(self.bases)
        self.register_buffer("species_of", torch.full((max(elements) + 1,), -1, dtype=torch.long))
        self.species_of[elements] = torch.arange(len(elements))
        hidden = hidden_irreps(channels)
        self.harmonics = o3.Irreps.spherical_harmonics(2)
        self.embedding = o3.Linear(o3.Irreps(f"{len(elements)}x0e"), hidden)
        self.layers = nn.ModuleList(Layer(hidden, self.harmonics, n_basis, radial_hidden, mean_neighbours) for _ in range(layers))
        layouts = sorted({basis.shells for basis in bases})
        self.layout_of = {element: layouts.index(basis.shells) for element, basis in self.bases.items()}
        representative = {layouts.index(basis.shells): basis for basis in bases}
        self.diagonal = nn.ModuleList(DiagonalHead(hidden, representative[k]) for k in range(len(layouts)))
        self.pairs = nn.ModuleDict({f"{a}-{b}": PairHead(hidden, self.harmonics, representative[a], representative[b],
                                                         n_basis, radial_hidden, pair_channels)
                                    for a in range(len(layouts)) for b in range(len(layouts))})

    def knows(self, numbers: Sequence[int]) -> bool:
        return all(int(z) in self.bases for z in numbers)

    def ao_offsets(self, numbers: Sequence[int]) -> list[int]:
        sizes = [self.bases[int(z)].size for z in numbers]
        return [sum(sizes[:i]) for i in range(len(sizes) + 1)]

    @staticmethod
    def _geometry(positions: torch.Tensor, molecule: torch.Tensor | None) -> tuple[torch.Tensor, torch.Tensor]:
        """Vectors [i, j] = r_j − r_i and distances, infinite between atoms of different molecules."""
        vectors = positions.unsqueeze(0) - positions.unsqueeze(1)
        distances = vectors.norm(dim=-1)
        if molecule is not None:
            distances = distances.masked_fill(molecule.unsqueeze(0) != molecule.unsqueeze(1), torch.inf)
        return vectors, distances

    def features(self, numbers: torch.Tensor, positions: torch.Tensor, molecule: torch.Tensor | None = None) -> torch.Tensor:
        vectors, distances = self._geometry(positions, molecule)
        i, j = torch.nonzero((distances < self.cutoff) & (distances > 0), as_tuple=True)
        harmonics = o3.spherical_harmonics(self.harmonics, vectors[i, j], normalize=True, normalization="component")
        radial = bessel_basis(distances[i, j], self.n_basis, self.cutoff) * polynomial_envelope(distances[i, j], self.cutoff).unsqueeze(1)
        onehot = nn.functional.one_hot(self.species_of[numbers], len(self.bases)).to(positions.dtype)
        h = self.embedding(onehot)
        for layer in self.layers:
            h = layer(h, (i, j), harmonics, radial)
        return h

    def forward(self, numbers: torch.Tensor, positions: torch.Tensor, molecule: torch.Tensor | None = None) -> torch.Tensor:
        """ΔF (n_ao, n_ao), Hartree, for atomic numbers (n,) and positions (n, 3) in Bohr. Several
        molecules at once (``molecule``: each atom's molecule) give one block-diagonal matrix."""
        h = self.features(numbers, positions, molecule)
        offsets = self.ao_offsets(numbers.tolist())
        layouts = torch.tensor([self.layout_of[int(z)] for z in numbers])
        matrix = positions.new_zeros(offsets[-1], offsets[-1])
        for k, head in enumerate(self.diagonal):
            atoms = torch.nonzero(layouts == k).squeeze(1)
            if len(atoms):
                self._place(matrix, offsets, atoms, atoms, head(h[atoms]))
        vectors, distances = self._geometry(positions, molecule)
        close = (distances < self.pair_cutoff) & (distances > 0)
        for key, head in self.pairs.items():
            a, b = map(int, key.split("-"))
            i, j = torch.nonzero(close & (layouts == a).unsqueeze(1) & (layouts == b).unsqueeze(0), as_tuple=True)
            if not len(i):
                continue
            harmonics = o3.spherical_harmonics(self.harmonics, vectors[i, j], normalize=True, normalization="component")
            radial = bessel_basis(distances[i, j], self.n_basis, self.pair_cutoff) * polynomial_envelope(distances[i, j], self.pair_cutoff).unsqueeze(1)
            blocks = head(h[i], h[j], harmonics, radial) / 2
            self._place(matrix, offsets, i, j, blocks)
            self._place(matrix, offsets, j, i, blocks.transpose(1, 2))
        return matrix

    @staticmethod
    def _place(matrix, offsets, rows, columns, blocks):
        """Add each block at its atoms' rows and columns of the AO matrix."""
        n_rows, n_columns = blocks.shape[1:]
        starts_r = torch.tensor([offsets[int(a)] for a in rows]).unsqueeze(1) + torch.arange(n_rows)
        starts_c = torch.tensor([offsets[int(b)] for b in columns]).unsqueeze(1) + torch.arange(n_columns)
        index = (starts_r.unsqueeze(2) * matrix.shape[1] + starts_c.unsqueeze(1)).reshape(-1)
        matrix.view(-1).index_add_(0, index, blocks.reshape(-1))

    def config(self) -> dict:
        return {"bases": [(basis.element, list(basis.shells)) for basis in self.bases.values()],
                "basis_name": self.basis_name, "method": self.method, **self.options}

    @classmethod
    def from_config(cls, config: dict) -> HamiltonianModel:
        config = dict(config)
        bases = [ElementBasis(int(z), tuple(shells)) for z, shells in config.pop("bases")]
        return cls(bases, config.pop("basis_name"), config.pop("method"), **config)
