"""The settings of an MD run, apart from the dynamics so that the command line reads its defaults
without importing ASE's integrators."""

from __future__ import annotations

from dataclasses import dataclass

from esml.errors import EsmlError

THERMOSTATS = ("langevin", "bussi", "nose-hoover")
# Å, the finite-difference step of Hessians: ω off by ~1e-5 relative (h² terms), well above SCF noise
DEFAULT_DISPLACEMENT = 0.005
MAX_TIMESTEP_FS = 10.0  # beyond this no atomistic integrator is stable; a larger step is a typo


@dataclass(frozen=True)
class MDSettings:
    """One MD run; ``esml md`` reads its defaults from here."""

    ensemble: str = "nvt"  # 'nvt' or 'nve'
    thermostat: str = "langevin"  # for NVT: 'langevin', 'bussi' or 'nose-hoover'
    temperature_K: float = 300.0  # thermostat target, and the initial velocities of NVE
    timestep_fs: float = 0.5
    steps: int = 20000  # 10 ps at 0.5 fs
    interval: int = 10  # steps between saved frames
    friction_per_fs: float = 0.01  # Langevin friction
    relaxation_fs: float = 100.0  # Bussi and Nosé–Hoover time constant
    seed: int = 0

    def checked(self) -> MDSettings:
        if self.ensemble not in ("nvt", "nve"):
            raise EsmlError(f"unknown ensemble {self.ensemble!r}; use nvt or nve")
        if self.thermostat not in THERMOSTATS:
            raise EsmlError(f"unknown thermostat {self.thermostat!r}; use one of {', '.join(THERMOSTATS)}")
        if self.timestep_fs <= 0 or self.steps < 1 or self.interval < 1 or self.temperature_K < 0:
            raise EsmlError("timestep, steps and interval must be positive and the temperature not negative")
        if self.timestep_fs > MAX_TIMESTEP_FS:
            raise EsmlError(f"--timestep {self.timestep_fs:g} fs: atomistic MD is stable below about 2 fs (0.5 fs with "
                            f"hydrogens); at most {MAX_TIMESTEP_FS:g} fs is accepted")
        if self.interval > self.steps:
            raise EsmlError(f"--interval {self.interval} is longer than the run ({self.steps} steps): no frame would be saved; "
                            "give fewer steps between frames or more steps")
        return self
