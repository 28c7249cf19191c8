"""The atomic-orbital basis as the model sees it: shells per element, and PySCF's real spherical
harmonics expressed in e3nn's, so that a block built from irreducible representations of O(3) is a
block of PySCF's matrix. Atomic units (Hartree, Bohr) throughout, as inside ``esml.qm``.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class ElementBasis:
    """The shells of one element in one basis: their angular momenta, in PySCF's AO order."""

    element: int
    shells: tuple[int, ...]

    @property
    def size(self) -> int:
        return sum(2 * l + 1 for l in self.shells)

    def offsets(self) -> list[int]:
        """Where each shell starts within the element's block."""
        return list(np.cumsum([0] + [2 * l + 1 for l in self.shells[:-1]]))


def element_basis(basis: str, element: int) -> ElementBasis:
    """The shells PySCF builds for ``element`` in ``basis`` (a contracted shell of several
    contractions counts as several shells)."""
    mol = _single_atom(basis, element)
    shells = []
    for shell in range(mol.nbas):
        shells += [mol.bas_angular(shell)] * mol.bas_nctr(shell)
    return ElementBasis(element, tuple(shells))


def _single_atom(basis: str, element: int):
    from pyscf import gto

    return gto.M(atom=[(element, (0.0, 0.0, 0.0))], basis=basis, spin=element % 2, verbose=0)


def _unit_points(count: int, seed: int) -> np.ndarray:
    points = np.random.default_rng(seed).normal(size=(count, 3))
    return points / np.linalg.norm(points, axis=1, keepdims=True)


def pyscf_harmonics(l: int, points: np.ndarray) -> np.ndarray:
    """PySCF's real spherical harmonics of degree ``l`` (p as x, y, z; d as xy, yz, z², xz, x²−y²)
    at points of the unit sphere, up to one common factor."""
    from pyscf import gto

    probe = gto.M(atom="He 0 0 0", basis={"He": [[l, [1.0, 1.0]]]}, verbose=0)
    return probe.eval_gto("GTOval_sph", points)


@functools.cache
def pyscf_from_e3nn(l: int) -> np.ndarray:
    """The orthogonal M with PySCF's real spherical harmonics of degree ``l`` = e3nn's @ M (e3nn
    orders d and higher differently), found from both evaluated on points of the unit sphere."""
    import torch
    from e3nn import o3

    points = _unit_points(8 * (2 * l + 1), l)
    ours = o3.spherical_harmonics(l, torch.from_numpy(points), normalize=True).numpy()
    transform = np.linalg.lstsq(ours, pyscf_harmonics(l, points), rcond=None)[0]
    return transform / np.linalg.norm(transform[:, 0])


def shell_rotation(l: int, rotation: np.ndarray) -> np.ndarray:
    """W with Y(R r) = Y(r) @ W for PySCF's harmonics of degree ``l``, exact in float64 (e3nn's
    Wigner matrices come from single-precision tables)."""
    points = _unit_points(8 * (2 * l + 1), 100 + l)
    return np.linalg.lstsq(pyscf_harmonics(l, points), pyscf_harmonics(l, points @ np.asarray(rotation).T), rcond=None)[0]


def ao_rotation(bases: list[ElementBasis], rotation: np.ndarray) -> np.ndarray:
    """The orthogonal matrix U with F(rotated molecule) = U F Uᵀ for the atoms' bases in order:
    block-diagonal, one rotation per shell."""
    per_degree = {l: shell_rotation(l, rotation).T for l in {l for basis in bases for l in basis.shells}}
    blocks = [per_degree[l] for basis in bases for l in basis.shells]
    size = sum(len(block) for block in blocks)
    matrix = np.zeros((size, size))
    start = 0
    for block in blocks:
        matrix[start:start + len(block), start:start + len(block)] = block
        start += len(block)
    return matrix
