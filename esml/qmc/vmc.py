"""Variational Monte Carlo: optimise the neural wavefunction on walkers drawn from |ψ|², then
measure its energy with a blocking error bar.

Hartree and Bohr throughout; ``esml.cli.qmc`` shows eV beside them. A run saves a checkpoint
every ``checkpoint_every`` steps and resumes from it. A step whose local energies or parameters
are not finite is undone: the run returns to its last good state with half the learning rate
and records the event; after ``MAX_ROLLBACKS`` the run stops with an error, keeping the checkpoint.
"""

from __future__ import annotations

import copy
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np
import torch
from torch.func import vmap

from esml import units
from esml.errors import EsmlError
from esml.qmc.ansatz import PauliNet
from esml.qmc.blocking import blocking_error
from esml.qmc.config import VMCConfig
from esml.qmc.hamiltonian import local_energy
from esml.qmc.optimizers import Optimizer
from esml.qmc.orbitals import Baseline, baseline
from esml.qmc.sampling import Walkers, initial_walkers, sweep
from esml.qmc.system import System

MAX_ROLLBACKS = 5
CHECKPOINT_FORMAT = "esml-vmc-3"  # 3: the baseline, with several determinants, is saved with the run


class QMCError(EsmlError):
    """A VMC run that cannot go on (diverged training, a checkpoint for another system)."""


@dataclass
class Run:
    """Everything a checkpoint holds."""

    system: System
    config: VMCConfig
    model: PauliNet
    optimizer: Optimizer
    walkers: Walkers
    generator: torch.Generator
    reference: Baseline  # the baseline wavefunction, kept in the checkpoint: a resumed run goes on from the same orbitals
    step: int = 0
    rate_scale: float = 1.0
    seconds: float = 0.0
    history: list[dict] = field(default_factory=list)  # per step: energy, std, acceptance
    events: list[dict] = field(default_factory=list)  # rollbacks


def default_device() -> torch.device:
    return torch.device("cuda" if torch.cuda.is_available() else "cpu")


def start(system: System, config: VMCConfig, device: torch.device | None = None) -> Run:
    config = config.checked()
    device = device or default_device()
    torch.manual_seed(config.seed)
    reference = baseline(system, config.baseline, config.basis)
    model = PauliNet(system, reference, config.ansatz).to(device)
    generator = torch.Generator(device=device).manual_seed(config.seed)
    walkers = initial_walkers(system, config.batch, generator, device)
    walkers = sweep(log_psi(model), walkers, config.equilibration, generator)
    return Run(system, config, model, Optimizer(model, config.optimizer), walkers, generator, reference)


def log_psi(model: PauliNet) -> Callable[[torch.Tensor], torch.Tensor]:
    """log|ψ| of a batch (B, N, 3)."""
    return vmap(lambda electrons: model(electrons)[1])


def energies(run: Run) -> torch.Tensor:
    return local_energy(log_psi(run.model), run.walkers.electrons, run.model.nuclei, run.model.charges,
                        run.system.nuclear_repulsion)


def clipped(values: torch.Tensor, width: float) -> torch.Tensor:
    median = values.median()
    spread = (values - median).abs().mean()
    return values.clamp(median - width * spread, median + width * spread)


def optimise(run: Run, checkpoint: Path | None = None, on_step: Callable[[Run], None] = lambda run: None) -> Run:
    """Optimisation steps until ``config.steps`` (counted across resumes), or until the time left
    of ``max_seconds`` is what the evaluation will take (as many steps, each no dearer than an
    optimisation step)."""
    config = run.config
    good = _snapshot(run)
    started = time.perf_counter() - run.seconds
    first_step, first_seconds = run.step, run.seconds
    while run.step < config.steps:
        if config.max_seconds is not None:
            per_step = (run.seconds - first_seconds) / max(1, run.step - first_step)
            if run.seconds + (config.evaluation_steps + 1) * per_step >= config.max_seconds:
                break
        run.walkers = sweep(log_psi(run.model), run.walkers, config.sweeps, run.generator)
        values = energies(run)
        if not torch.isfinite(values).all() or not _finite_parameters(run.model):
            good = _roll_back(run, good)
            continue
        run.optimizer.step(run.walkers.electrons, clipped(values, config.clip), run.step, run.rate_scale)
        run.step += 1
        run.seconds = time.perf_counter() - started
        run.history.append({"step": run.step, "energy": float(values.mean()), "std": float(values.std()),
                            "acceptance": run.walkers.acceptance, "seconds": run.seconds})
        on_step(run)
        if run.step % config.checkpoint_every == 0 or run.step == config.steps:
            if _finite_parameters(run.model):
                good = _snapshot(run)
            if checkpoint is not None:
                save(run, checkpoint)
    return run


@dataclass(frozen=True)
class Evaluation:
    """The energy of the optimised wavefunction, sampled with frozen parameters.

    energy_ha         mean local energy, Hartree
    error_ha          its standard error by blocking (correlated samples), Hartree
    variance          variance of the local energy, Hartree² (zero for the exact wavefunction)
    evaluation_steps  sampling steps it is averaged over
    """

    energy_ha: float
    error_ha: float
    variance: float
    evaluation_steps: int


def evaluate(run: Run, steps: int | None = None, on_step: Callable[[int], None] = lambda step: None,
             seconds: float | None = None) -> Evaluation:
    """Energy (Ha) with a blocking error bar and the variance of E_L, from frozen parameters; within
    ``seconds`` when given (at least 2 steps), so a time budget holds the whole run."""
    steps = steps or run.config.evaluation_steps
    deadline = None if seconds is None else time.perf_counter() + seconds
    means, squares = [], []
    for step in range(steps):
        if deadline is not None and step >= 2 and time.perf_counter() > deadline:
            break
        run.walkers = sweep(log_psi(run.model), run.walkers, run.config.sweeps, run.generator)
        values = energies(run)
        values = values[torch.isfinite(values)]
        means.append(float(values.mean()))
        squares.append(float((values**2).mean()))
        on_step(step + 1)
    energy = float(np.mean(means))
    return Evaluation(energy, blocking_error(np.array(means)), float(np.mean(squares) - energy**2), len(means))


def summary(run: Run, evaluation: Evaluation, evaluation_seconds: float = 0.0) -> dict:
    """What a finished run reports: the evaluation (energy_ha, error_ha, variance) with the energies
    in eV too, the baseline's, the steps, the seconds (optimisation and evaluation; ``seconds`` is
    their sum), the configuration and history."""
    return {**asdict(evaluation), "steps": run.step, "seconds": run.seconds + evaluation_seconds,
            "optimisation_seconds": run.seconds, "evaluation_seconds": evaluation_seconds,
            "energy_ev": evaluation.energy_ha * units.HARTREE_TO_EV, "error_ev": evaluation.error_ha * units.HARTREE_TO_EV,
            "hartree_fock_ha": run.reference.hartree_fock_energy, "baseline": run.reference.method,
            "baseline_ha": run.reference.energy, "system": asdict(run.system), "config": asdict(run.config),
            "events": run.events,
            "history": [{key: r[key] for key in ("step", "energy", "std", "seconds")} for r in run.history]}


def _finite_parameters(model: PauliNet) -> bool:
    return all(torch.isfinite(parameter).all() for parameter in model.parameters())


def _snapshot(run: Run) -> dict:
    return {"model": copy.deepcopy(run.model.state_dict()), "optimizer": copy.deepcopy(run.optimizer.state_dict()),
            "walkers": copy.deepcopy(run.walkers), "step": run.step, "history": len(run.history)}


def _roll_back(run: Run, good: dict) -> dict:
    if len(run.events) >= MAX_ROLLBACKS:
        raise QMCError(f"training diverged {MAX_ROLLBACKS + 1} times (non-finite energies or parameters) by step "
                       f"{run.step}; lower --learning-rate or raise --batch (the last checkpoint is kept)")
    run.model.load_state_dict(good["model"])
    run.optimizer.load_state_dict(good["optimizer"])
    run.walkers = copy.deepcopy(good["walkers"])
    run.events.append({"step": run.step, "event": "non-finite local energy or parameters",
                       "action": f"rolled back to step {good['step']}, learning rate × 0.5"})
    run.step = good["step"]
    del run.history[good["history"]:]
    run.rate_scale *= 0.5
    return good


def save(run: Run, path: Path) -> None:
    state = {"format": CHECKPOINT_FORMAT, "system": asdict(run.system), "config": asdict(run.config),
             "model": run.model.state_dict(), "optimizer": run.optimizer.state_dict(),
             "electrons": run.walkers.electrons.cpu(), "step_size": run.walkers.step_size,
             "generator": run.generator.get_state(), "baseline": run.reference,
             "step": run.step, "rate_scale": run.rate_scale, "seconds": run.seconds, "history": run.history,
             "events": run.events}
    partial = path.with_suffix(path.suffix + ".partial")
    torch.save(state, partial)
    partial.replace(path)  # a run killed while saving keeps its previous checkpoint


def resume(path: Path, system: System, config: VMCConfig, device: torch.device | None = None) -> Run:
    """The run saved at ``path``, to go on to ``config.steps``; it must be for the same system and ansatz."""
    config = config.checked()
    try:
        state = torch.load(path, map_location="cpu", weights_only=False)
    except Exception as error:  # whatever torch or pickle raise, the file is not a checkpoint
        raise QMCError(f"{path} is not a readable VMC checkpoint ({type(error).__name__}); "
                       "start without --resume") from None
    if not isinstance(state, dict) or state.get("format") != CHECKPOINT_FORMAT:
        raise QMCError(f"{path} is not a checkpoint of this version of esml vmc; start without --resume")
    saved = state["config"]
    if state["system"] != asdict(system) or (saved["ansatz"], saved["baseline"]) != (asdict(config.ansatz),
                                                                                     config.baseline):
        raise QMCError(f"{path} holds a run of another system, baseline or ansatz; give the same structure, charge, "
                       "spin, --baseline and --determinants")
    device = device or default_device()
    torch.manual_seed(config.seed)
    model = PauliNet(system, state["baseline"], config.ansatz).to(device)
    model.load_state_dict(state["model"])
    optimizer = Optimizer(model, config.optimizer)
    optimizer.load_state_dict(state["optimizer"])
    generator = torch.Generator(device=device)
    generator.set_state(state["generator"])
    walkers = Walkers(state["electrons"].to(device), state["step_size"])
    return Run(system, config, model, optimizer, walkers, generator, state["baseline"], state["step"],
               state["rate_scale"], state["seconds"], state["history"], state["events"])
