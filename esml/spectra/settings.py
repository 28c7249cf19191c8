"""The settings of the spectroscopy runs, apart from the work so that the command line reads its
defaults without importing ASE's dynamics."""

from __future__ import annotations

from dataclasses import dataclass

from esml.errors import EsmlError
from esml.simulate.settings import DEFAULT_DISPLACEMENT


@dataclass(frozen=True)
class VPT2Settings:
    """``step``: the finite-difference displacement along each mode, in dimensionless q;
    ``displacement``: the Cartesian step of the inner Hessians (Å); a Fermi resonance is treated
    when its partners lie within ``fermi_window`` cm⁻¹ of the fundamental and Martin's estimate of
    the error second-order theory makes there, W⁴/Δ³, exceeds ``martin_threshold`` cm⁻¹."""

    step: float = 0.05
    displacement: float = DEFAULT_DISPLACEMENT
    fermi_window: float = 200.0
    martin_threshold: float = 1.0

    def checked(self) -> VPT2Settings:
        if not 0.005 <= self.step <= 0.5:
            raise EsmlError(f"VPT2 step {self.step:g}: the displacement along each mode must be between 0.005 and 0.5 (dimensionless q)")
        if self.fermi_window < 0 or self.martin_threshold <= 0:
            raise EsmlError("the Fermi window must not be negative and Martin's threshold must be positive")
        return self


@dataclass(frozen=True)
class DynamicsSettings:
    """IR from MD: an NVT run to equilibrate, then ``trajectories`` NVE runs, each started from
    where the NVT run has got to after a further ``spacing_fs``; dipoles every step."""

    temperature_K: float = 300.0
    timestep_fs: float = 0.25
    equilibration_fs: float = 1000.0
    nve_fs: float = 2000.0
    trajectories: int = 4
    spacing_fs: float = 250.0
    seed: int = 0

    def checked(self) -> DynamicsSettings:
        if min(self.temperature_K, self.timestep_fs, self.nve_fs) <= 0 or self.trajectories < 1 or self.equilibration_fs < 0:
            raise EsmlError("IR from dynamics needs a positive temperature, step, NVE length and at least one trajectory")
        if self.timestep_fs > 1.0:
            raise EsmlError(f"timestep {self.timestep_fs:g} fs: an X–H stretch (~9 fs period) needs at most 1 fs (0.25 is usual)")
        return self
