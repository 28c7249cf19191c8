"""Infrared spectra: harmonic (frequencies and intensities from the Hessian and dipole derivatives)
and from dynamics (the dipole autocorrelation of NVE trajectories started from an NVT ensemble).

Intensities are integrated absorption coefficients in km/mol; a broadened harmonic spectrum keeps
each band's area equal to its intensity, so its ordinate is km/mol per cm⁻¹.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, replace

import numpy as np
from ase import Atoms, units
from ase.calculators.calculator import Calculator

from esml.errors import EsmlError
from esml.simulate.dynamics import trajectory
from esml.simulate.settings import DEFAULT_DISPLACEMENT, MDSettings
from esml.simulate.vibrations import NormalModes, gives_dipole, harmonic_modes
from esml.spectra.settings import DynamicsSettings


@dataclass(frozen=True)
class StickSpectrum:
    """``wavenumbers`` (n,) cm⁻¹ and ``intensities`` (n,) km/mol."""

    wavenumbers: np.ndarray
    intensities: np.ndarray


def harmonic_infrared(atoms: Atoms, calculator: Calculator, displacement: float = DEFAULT_DISPLACEMENT) -> tuple[NormalModes, StickSpectrum]:
    """Normal modes and double-harmonic intensities; the calculator must give dipoles."""
    if not gives_dipole(atoms, calculator):
        raise EsmlError("no dipole from this model or method, and IR intensities need one; use HF, DFT or xTB, "
                        "or a model trained with --dipole-weight (esml spectrum anharmonic needs none)")
    modes, derivatives = harmonic_modes(atoms, calculator, displacement, dipole=True)
    return modes, StickSpectrum(modes.wavenumbers, modes.intensities(derivatives.dipole))


def broadened(sticks: StickSpectrum, grid: np.ndarray, fwhm: float = 10.0) -> np.ndarray:
    """Lorentzian bands of full width ``fwhm`` cm⁻¹ on ``grid`` (cm⁻¹), each of area its intensity."""
    half = fwhm / 2
    shapes = half / np.pi / ((grid[:, None] - sticks.wavenumbers[None, :]) ** 2 + half**2)
    return shapes @ sticks.intensities


def dipole_trajectories(atoms: Atoms, calculator: Calculator, settings: DynamicsSettings = DynamicsSettings(),
                        progress: Callable[[int, int], None] | None = None) -> np.ndarray:
    """(trajectories, steps, 3) e·Å: the dipole at every step of each NVE run."""
    settings = settings.checked()
    moving = atoms.copy()
    moving.calc = calculator
    nvt = MDSettings(ensemble="nvt", thermostat="bussi", temperature_K=settings.temperature_K, timestep_fs=settings.timestep_fs,
                     steps=max(1, round(settings.equilibration_fs / settings.timestep_fs)), interval=1, seed=settings.seed)
    for _ in trajectory(moving, replace(nvt, interval=nvt.steps)):
        pass
    nve_steps = round(settings.nve_fs / settings.timestep_fs)
    runs = []
    for run in range(settings.trajectories):
        if run:  # a further stretch of NVT decorrelates the next start
            spacing = replace(nvt, steps=max(1, round(settings.spacing_fs / settings.timestep_fs)), seed=settings.seed + run)
            spacing = replace(spacing, interval=spacing.steps)
            for _ in trajectory(moving, spacing, draw_momenta=False):
                pass
        start = moving.copy()  # momenta included
        start.calc = calculator
        nve = replace(nvt, ensemble="nve", steps=nve_steps, interval=1)
        runs.append([state.get_dipole_moment() for state in trajectory(start, nve, draw_momenta=False)])
        if progress:
            progress(run + 1, settings.trajectories)
    return np.asarray(runs)


def dynamics_spectrum(dipoles: np.ndarray, timestep_fs: float, temperature_K: float, window_fs: float = 1000.0) -> tuple[np.ndarray, np.ndarray]:
    """Wavenumbers (cm⁻¹) and absorption (arbitrary units, peak 1) from NVE dipoles (runs, steps, 3):
    the Fourier transform of the autocorrelation of dμ/dt under a Hann window of ``window_fs``,
    which is the classical line shape times ω² already; the harmonic quantum correction factor
    βħω/(1 − e^(−βħω)) then makes it the quantum one (Ramírez et al., JCP 121, 3973 (2004))."""
    rates = np.gradient(dipoles, timestep_fs, axis=1)
    steps = rates.shape[1]
    lags = min(steps - 1, int(round(window_fs / timestep_fs)))
    padded = 2 * steps
    transform = np.fft.rfft(rates - rates.mean(axis=1, keepdims=True), n=padded, axis=1)
    correlation = np.fft.irfft(np.abs(transform) ** 2, n=padded, axis=1)[:, : lags + 1].sum(axis=(0, 2))
    correlation /= steps - np.arange(lags + 1)  # unbiased: each lag averaged over the pairs it has
    window = np.hanning(2 * lags + 1)[lags:]
    symmetric = np.concatenate([correlation * window, (correlation * window)[1:][::-1]])
    spectrum = np.fft.rfft(symmetric).real
    frequency_per_fs = np.fft.rfftfreq(len(symmetric), timestep_fs)
    wavenumbers = frequency_per_fs * 1e15 / (units._c * 100)
    energy_over_kt = wavenumbers * units.invcm / (units.kB * temperature_K)
    with np.errstate(invalid="ignore", divide="ignore"):
        correction = np.where(energy_over_kt > 0, energy_over_kt / -np.expm1(-energy_over_kt), 1.0)
    spectrum = np.clip(spectrum * correction, 0, None)
    return wavenumbers, spectrum / spectrum.max()


def band_centres(wavenumbers: np.ndarray, spectrum: np.ndarray, near: np.ndarray, half_width: float = 60.0) -> np.ndarray:
    """The maximum of ``spectrum`` within ±``half_width`` cm⁻¹ of each wavenumber in ``near``."""
    centres = []
    for target in near:
        inside = np.abs(wavenumbers - target) <= half_width
        centres.append(float(wavenumbers[inside][np.argmax(spectrum[inside])]) if inside.any() else float("nan"))
    return np.array(centres)
