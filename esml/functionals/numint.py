"""A learned functional inside PySCF: a ``NumInt`` whose XC derivatives come from autograd.

PySCF's Kohn–Sham code, its analytic nuclear gradients and its TDDFT/TDA response all ask the
numerical integrator for ``eval_xc_eff``: the energy per particle and its first (and, for
response, second) derivatives with respect to the density variables [ρ, ∇ρ, τ] of each spin.
:class:`LearnedNumInt` answers from the torch model, so RKS, UKS, gradients and TDA work
unchanged. PySCF asks ``ni.libxc`` what kind of functional ``mf.xc`` names (hybrid? non-local?
which derivatives?); :class:`_Describe` answers for the learned one, whatever ``mf.xc`` says.
A range-separated functional hands PySCF its ω and its short- and long-range exact-exchange
fractions (``rsh_coeff``), so PySCF's own code builds the long-range exchange matrix, in the
SCF and in the gradients.

    mf = learned_kohn_sham(mol, model)   # RKS for closed shells, UKS otherwise
    mf.kernel(); nuclear_gradient(mf)
"""

from __future__ import annotations

import numpy as np
import torch
from pyscf import dft
from pyscf.dft import numint

from esml.functionals.model import LearnedXC


class _Describe:
    """The parts of PySCF's ``libxc`` module that KS code consults about ``mf.xc``."""

    __name__ = "esml"
    __version__ = "learned functional"
    __reference__ = "esml.functionals"

    def __init__(self, hybrid: bool):
        self.hybrid = hybrid

    def is_hybrid_xc(self, xc_code) -> bool:
        return self.hybrid

    def is_nlc(self, xc_code) -> bool:
        return False

    def max_deriv_order(self, xc_code) -> int:
        return 2

    def test_deriv_order(self, xc_code, deriv, raise_error=False) -> bool:
        if deriv > 2 and raise_error:
            raise NotImplementedError("esml's learned functional gives derivatives up to second order (fxc)")
        return deriv <= 2

    def needs_laplacian(self, xc_code) -> bool:
        return False

    def xc_reference(self, xc_code) -> list[str]:
        return ["esml learned functional (esml.functionals.model)"]


class LearnedNumInt(numint.NumInt):
    def __init__(self, model: LearnedXC):
        super().__init__()
        self.model = model
        self.fraction = float(model.exact_exchange_fraction.detach())
        self.long_range = model.long_range_exact_exchange
        self.range_separation = model.config.range_separation
        self.libxc = _Describe(hybrid=self.fraction > 0 or self.long_range > 0)

    def _xc_type(self, xc_code) -> str:
        return "MGGA"

    def hybrid_coeff(self, xc_code, spin=0) -> float:
        return self.fraction

    def rsh_coeff(self, xc_code):
        """(ω, α, β) in libxc's convention: α·E_x^HF + β·E_x^HF,SR, i.e. α of the long range and
        α + β of the short range."""
        if self.range_separation == 0:
            return 0.0, 0.0, 0.0
        return self.range_separation, self.long_range, self.fraction - self.long_range

    def eval_xc(self, *args, **kwargs):
        raise NotImplementedError("esml's learned functional is evaluated through eval_xc_eff")

    def eval_xc_eff(self, xc_code, rho, deriv=1, omega=None, xctype=None, verbose=None, spin=None):
        rho = np.asarray(rho, dtype=np.float64)
        if rho.shape[-2] == 6:  # PySCF may include the Laplacian, which this functional does not use
            rho = rho[..., [0, 1, 2, 3, 5], :]
        return evaluate(self.model, rho, deriv)


def evaluate(model: LearnedXC, rho: np.ndarray, deriv: int = 1):
    """(exc, vxc, fxc, None) in PySCF's ``eval_xc_eff`` layout, for rho of shape (5, N) or (2, 5, N)."""
    if deriv > 2:
        raise NotImplementedError("esml's learned functional gives derivatives up to second order (fxc)")
    unpolarised = rho.ndim == 2
    variables = torch.tensor(rho, requires_grad=deriv > 0)
    per_spin = torch.stack([variables / 2, variables / 2]) if unpolarised else variables
    energy = model(per_spin)
    total_density = per_spin[:, 0].sum(0).detach()
    exc = torch.where(total_density > 0, energy.detach() / total_density.clamp(min=1e-300), 0.0).numpy()
    if deriv == 0:
        return exc, None, None, None
    (vxc,) = torch.autograd.grad(energy.sum(), variables, create_graph=deriv > 1)
    fxc = None
    if deriv > 1:
        # Grid points are independent: row i of the Hessian at every point is the gradient of Σ vxc_i.
        flat = vxc.reshape(-1, vxc.shape[-1])
        rows = [torch.autograd.grad(row.sum(), variables, retain_graph=True)[0] for row in flat]
        fxc = torch.stack(rows).reshape(*vxc.shape[:-1], *vxc.shape[:-1], vxc.shape[-1]).numpy()
    return exc, vxc.detach().numpy(), fxc, None


def learned_kohn_sham(mol, model: LearnedXC, name: str = "esml-xc"):
    """An RKS (closed shell) or UKS object that runs ``model``; ``name`` is what PySCF prints as xc."""
    mean_field = dft.RKS(mol) if mol.spin == 0 else dft.UKS(mol)
    mean_field.xc = name
    mean_field._numint = LearnedNumInt(model)
    return mean_field


def nuclear_gradient(mean_field) -> np.ndarray:
    """Analytic nuclear gradient (Ha/Bohr) of a converged learned-functional calculation, with the
    response of the grid weights to the nuclei: a trained meta-GGA varies enough between grid points
    that leaving it out, as PySCF does by default, errs by 2e-3 Ha/Bohr (water, def2-SVP, esml-xc1)."""
    gradients = mean_field.nuc_grad_method()
    gradients.grid_response = True
    return gradients.kernel()
