"""The active-learning loop behind ``esml learn``: a potential that chooses its own oracle calls.

Round after round: fit the GP on what is labeled (on top of a GFN2-xTB baseline when the oracle
is a more expensive method: the GP then learns only the oracle's difference from it) → measure
it on the validation frames and calibrate its σ there → let walkers run MD with it → stop if the
validation error and the mean predicted error of the walkers' frames are both under the target →
otherwise label the frames whose calibrated expected error exceeds the target, diverse among
themselves (farthest-point sampling in descriptor space, away from what is already labeled) →
repeat until the target or the budget is reached. The threshold is the target itself, read
through the calibration, so there is nothing to tune by hand.

The validation frames are drawn at random from the model's own equilibrated MD (frames
from a walker's warm-up after its momenta were drawn are left out: they are colder than the
temperature asked for): in the first round in which no walker runs away (or, at the latest, once
a quarter of the budget is spent) and the walkers pass through twice as many such frames as the
validation set needs.
Drawn earlier, from the MD of a model that still lets molecules distort wildly, they would hold
frames the later, better model never visits, and the validation error would stall on them. They
are labeled by the oracle and count towards the budget like every other call. Until then σ is
used as it comes, and the run cannot stop as converged.

Each validation frame is labeled once and is never a training frame while it validates. A set
drawn from an early model's MD stops representing the later model's: on aspirin the early MD ran
hotter than the reference MD (the validation said 92 meV/Å where independent frames said 73, and
the run went on below the target). So once the training set has grown ``validation_refresh``
times since the set was drawn, a new set is drawn from the current model's MD, and the old
frames, labeled already, join the training set.

A run lives in one folder (see :mod:`esml.active.run_files`): labeled frames, walkers, the
decisions still to be labeled, the model, the report. Everything is written before the oracle is
called, so a killed run resumes without repeating an oracle call: what was labeled is in the
label cache, and the frames chosen but not yet labeled are on disk.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from contextlib import AbstractContextManager, nullcontext
from dataclasses import dataclass, field, replace
from functools import cached_property
from pathlib import Path

import numpy as np
from ase import Atoms

from esml.active import run_files
from esml.active.config import LearnConfig
from esml.active.descriptors import structure_features
from esml.active.report import write_report
from esml.active.run_files import RunState, Status
from esml.active.walkers import Visit, explore, start_walkers
from esml.calculator import PotentialCalculator
from esml.data.store import Store
from esml.errors import EsmlError
from esml.methods import MethodSpec, parse_reference
from esml.numerics import farthest_point_sampling
from esml.potential import Potential
from esml.potentials.delta import DeltaPotential
from esml.potentials.files import save
from esml.qm.cache import LabelCache
from esml.qm.engine import validate_method
from esml.qm.label import label_structures
from esml.simulate.dynamics import bonds
from esml.training.calibration import Calibration, coverage, fit_calibration, reliability_curve
from esml.training.delta import fit_gp_on_baseline, resolve_baseline
from esml.training.evaluate import evaluate_frames
from esml.training.gp import DescriptorCache

#: E|e| = σ √(2/π) for a Gaussian error e: turns a calibrated σ into an expected absolute error.
MEAN_ABS_PER_SIGMA = float(np.sqrt(2.0 / np.pi))
REGRID_GROWTH = 1.5
SAVED_MODEL_FOLDS = 4  # cross-validation of the model saved at the end, fitted on the validation frames too


@dataclass(frozen=True)
class ErrorScore:
    """A frame's expected force MAE from its raw σ: the calibrated σ times the mean |error| per
    calibrated σ that the validation frames show (√(2/π), the Gaussian value, before there are
    any). Force errors have heavier tails than a Gaussian: with the Gaussian factor the expected
    MAE would not match the validation MAE even on the validation frames themselves (with the
    maximum-likelihood scale it would exceed it, and a run could never stop). With the measured
    factor the score is σ · mean|e| / mean σ, whichever scale the calibration chose."""

    calibration: Calibration = Calibration("scale", 1.0)
    mean_abs_per_sigma: float = MEAN_ABS_PER_SIGMA

    def __call__(self, sigma: np.ndarray) -> float:
        return float(self.calibration.apply(np.ravel(sigma)).mean() * self.mean_abs_per_sigma)

    @property
    def per_raw_sigma(self) -> float:
        return self.calibration.scale * self.mean_abs_per_sigma


@dataclass
class Hooks:
    """How the loop talks to whoever runs it: ``log(text)``, and ``progress(total, text)``, a
    context manager yielding ``advance(n)``. The defaults stay silent."""

    log: Callable[[str], None] = lambda text: None
    progress: Callable[[int, str], AbstractContextManager] = lambda total, text: nullcontext(lambda n: None)
    on_model: Callable[[int, Potential], None] = lambda round_index, model: None  # benchmarks measure each round's model


@dataclass
class Oracle:
    spec: MethodSpec
    cache: LabelCache
    config: LearnConfig
    calls: int = 0
    computed: int = 0
    failures: list = field(default_factory=list)

    def label(self, frames: list[Atoms], hooks: Hooks, what: str) -> tuple[list[Atoms], dict]:
        """Labeled frames (failures left out; ``info`` kept) and counts; every frame sent counts as a call."""
        if not frames:
            return [], {"sent": 0, "computed": 0, "cached": 0, "failed": 0}
        with hooks.progress(len(frames), f"{what}: {self.spec.label}") as advance:
            labeled, report = label_structures(
                frames, self.spec, self.cache, charge=self.config.charge, multiplicity=self.config.multiplicity,
                workers=self.config.workers, scheduler=self.config.scheduler, on_progress=advance,
            )
        self.calls += len(frames)
        self.computed += report.computed
        self.failures += [{"what": what, "reason": f.reason} for f in report.failures]
        return labeled, {"sent": len(frames), "computed": report.computed, "cached": report.cached, "failed": len(report.failures)}


def seed_frames(start: Atoms, count: int, rattle: float, seed: int) -> list[Atoms]:
    """The start structure and ``count - 1`` copies displaced by Gaussian noise of ``rattle`` Å."""
    rng = np.random.default_rng(seed)
    frames = []
    for index in range(count):
        atoms = Atoms(start.numbers, start.positions, cell=start.cell, pbc=start.pbc)
        if index:
            atoms.positions += rng.normal(scale=rattle, size=atoms.positions.shape)
        atoms.info.update(learn_round=0, learn_reason="seed")
        frames.append(atoms)
    return frames


def validation_errors(model: Potential, frames: list[Atoms]) -> tuple[dict, np.ndarray, np.ndarray]:
    """The model's errors on labeled frames (force MAE and RMSE in eV/Å, offset-free energy MAE in
    eV/atom), with the flat force-component errors and the raw σ of each (eV/Å)."""
    result = evaluate_frames(model, frames)
    metrics = result.metrics()
    summary = {"force_mae": metrics["force_mae"], "force_rmse": metrics["force_rmse"],
               "energy_mae_per_atom": metrics["energy_mae_offset_free"]}
    return summary, result.force_errors, result.forces_std


def choose(visits: list[Visit], threshold: float, count: int, covered: np.ndarray, species: list[int]) -> list[Visit]:
    """Frames over the threshold, diverse by farthest-point sampling away from the labeled ones.
    When none is over it, the most uncertain quarter is the pool: the validation error says the
    model is not there yet, so the calibrated σ is too optimistic."""
    pool = [v for v in visits if v.score > threshold]
    if not pool:
        ranked = sorted(visits, key=lambda v: -v.score)
        pool = ranked[: max(count, len(ranked) // 4)]
    if not pool or count <= 0:
        return []
    features = structure_features([v.atoms for v in pool], species)
    return [pool[k] for k in farthest_point_sampling(features, count, covered)]


class ActiveLearner:
    """One run: its folder, configuration, oracle and state; :meth:`run` does the rounds."""

    def __init__(self, run_dir: Path, config: LearnConfig, cache: LabelCache, hooks: Hooks | None = None):
        self.run_dir = Path(run_dir)
        config = config.checked()
        oracle = parse_reference(config.oracle, initial_guess=config.initial_guess)  # parsed here once; the spec is passed along
        self.baseline = resolve_baseline(oracle, config.baseline)
        self.config = replace(config, baseline=self.baseline.label if self.baseline else None)
        self.hooks = hooks or Hooks()
        self.oracle = Oracle(oracle, cache, self.config)
        self.descriptors: DescriptorCache | None = None
        self.length_scale_search: tuple[int, float] | None = None  # (training frames, ℓ chosen) at the last search
        self.state: run_files.RunState | None = None

    @cached_property
    def store(self) -> Store:
        return run_files.open_run_store(self.state, self.run_dir)

    # ---------------------------------------------------------------- setup
    def start(self, start: Atoms, db: str | None = None) -> None:
        """A new run; :meth:`run` labels the seed frames first (an oracle that fails on all of them stops there).
        A method that cannot treat ``start`` is refused before the run folder is made."""
        for spec in filter(None, (self.oracle.spec, self.baseline)):
            validate_method(spec, start.get_chemical_symbols(), periodic=bool(start.pbc.any()))
        run_files.claim(self.run_dir)
        # a charge or spin written in the start file holds for every frame of the run
        self.config = replace(self.config, charge=_info_int(start, "charge", self.config.charge),
                              multiplicity=_info_int(start, "multiplicity", self.config.multiplicity))
        self.oracle.config = self.config
        state = run_files.RunState(config=self.config.to_json(), species=sorted({int(z) for z in start.numbers}), db=db or "",
                                   label_cache=str(self.oracle.cache.path.absolute()))
        state.walkers = start_walkers(start, list(self.config.temperatures), self.config.walkers_per_temperature)
        self.state = state
        state.pending = seed_frames(start, min(self.config.n_seed, self.config.budget), self.config.seed_rattle, self.config.seed)
        state.pending_reason = "seed"
        run_files.save_state(self.run_dir, state)

    def resume(self) -> None:
        """The run in the folder, continued with this learner's configuration (a larger budget
        restarts a run that had spent its own)."""
        self.state = run_files.load_state(self.run_dir)
        self.oracle.calls = self.state.oracle_calls
        self.oracle.computed = self.state.oracle_computed
        if self.config.budget > self.state.oracle_calls and self.state.status in (Status.BUDGET, Status.MAX_ROUNDS):
            self.state.status = Status.RUNNING
        self.state.config = self.config.to_json()

    # ---------------------------------------------------------------- rounds
    def run(self) -> run_files.RunState:
        state = self.state
        clock = time.perf_counter()
        elapsed_before = state.wall_seconds
        try:
            counts = self.label_pending()  # what a killed run had chosen but not yet labeled
            if state.rounds and counts["sent"]:
                state.rounds[-1]["labels"] = counts
            if not state.train:
                # the seed frames are the start structure rattled: the first reason speaks for all
                failures = self.oracle.failures
                reason = f"{failures[0]['reason']}; {len(failures)} seed frames failed" if failures else "no frame came back"
                raise EsmlError(f"the oracle {self.config.oracle} could not label the start structure ({reason}); "
                                "check its geometry, charge and multiplicity, then run the same command again")
            while state.status == Status.RUNNING:
                state.wall_seconds = elapsed_before + time.perf_counter() - clock
                self.one_round()
                state.wall_seconds = elapsed_before + time.perf_counter() - clock
                run_files.save_state(self.run_dir, state)
                write_report(self.run_dir, state)
        finally:
            state.wall_seconds = elapsed_before + time.perf_counter() - clock
            run_files.save_state(self.run_dir, state)
        return state

    def one_round(self) -> None:
        state, config = self.state, self.config
        index = len(state.rounds) + 1
        model = self.fit()
        self.hooks.on_model(index, model)
        calculator = PotentialCalculator(model)
        row: dict = {"round": index, "n_train": len(state.train), "hyperparameters": gaussian_process(model).hyperparameters}
        score = self.calibrate(model, row)
        threshold = config.target_force_mae
        visits, ran_away = self.explore(calculator, score, index, threshold)
        # validation frames stand for the walkers' thermal MD: none from a warm-up, none where a walker ran away
        steady = [v for v in visits if v.equilibrated and not v.stopped]
        room = min(config.n_validation, config.budget - self.oracle.calls)
        # a run whose walkers keep running away still needs a calibration: at the latest once a
        # quarter of the budget is spent, whatever the walkers did
        ready = (ran_away == 0 or self.oracle.calls >= config.budget / 4) and len(steady) >= 2 * config.n_validation
        if ready and self.validation_due(room):
            self.retire_validation()
            drawn = {id(v) for v in self.draw_validation(steady, index, room)}
            row["validation_drawn"] = len(state.validation)
            calibrated = self.calibrate(model, row)
            # a validation frame is never also a training frame; the walkers scored without a
            # calibration, and a scale calibration rescales every score by the same factor
            ratio = calibrated.per_raw_sigma / score.per_raw_sigma
            visits = [replace(v, score=v.score * ratio) for v in visits if id(v) not in drawn]
        row["oracle_calls"] = self.oracle.calls
        scores = np.array([v.score for v in visits]) if visits else np.array([np.inf])
        row["md"] = {"frames": len(visits), "over_threshold": int((scores > threshold).sum()),
                     "mean_expected_force_mae": float(scores.mean()), "walkers_ran_away": ran_away}
        converged = (state.validation and row["validation"]["force_mae"] <= threshold
                     and float(scores.mean()) <= threshold and ran_away == 0)
        state.rounds.append(row)
        stop = (Status.CONVERGED if converged else Status.BUDGET if self.oracle.calls >= config.budget
                else Status.MAX_ROUNDS if index >= config.max_rounds else None)
        if stop:
            run_files.record_round_model(self.store, state, row, model.kind, self.run_dir)
            return self.finish(stop, model)
        covered = structure_features(state.train, state.species)
        picks = choose(visits, threshold, min(config.batch_size, config.budget - self.oracle.calls), covered, state.species)
        state.pending = [self.tagged(v, index, "uncertain") for v in picks]
        state.pending_reason = "uncertain"
        run_files.save_state(self.run_dir, state)
        row["labels"] = self.label_pending()
        run_files.record_round_model(self.store, state, row, model.kind, self.run_dir)

    def finish(self, status: Status, model) -> None:
        """Save the model, refitted on the validation frames too: they are oracle labels from the
        model's own MD (in the benchmarks the refit lowered the test error: ethanol 56 → 38 meV/Å,
        aspirin 82 → 79). The refit keeps the last round's length scale. Its σ factor and
        expected error come from cross-validation (:meth:`cross_validate`); the validation errors
        of the rounds are those of the models before, which had not seen the validation frames."""
        state = self.state
        scale = state.rounds[-1].get("validation", {}).get("calibration_scale") if state.rounds else None
        if state.validation:
            length_scale = gaussian_process(model).length_scale
            state.saved_model = self.cross_validate(length_scale)
            scale = state.saved_model["calibration_scale"]
            model = self.fit(state.train + state.validation, length_scale=length_scale)
        metadata = {"oracle": self.config.oracle, "baseline": self.config.baseline, "status": status.value,
                    "n_train": len(state.train) + len(state.validation), "calibration_scale": scale,
                    "cross_validation": state.saved_model or None}
        save(model, self.run_dir / "model.pt", metadata=metadata)
        run_files.record_saved_model(self.store, state, metadata, model.kind, self.run_dir, self.run_dir / "model.pt")
        state.status = status  # only once the model is saved: a run killed before is still running, and --resume goes on

    def cross_validate(self, length_scale: float) -> dict:
        """Force MAE and σ factor of the model refitted on the training and validation frames
        together, which leaves no labeled frame to measure it on: each of ``SAVED_MODEL_FOLDS``
        parts of the validation frames is predicted by a model fitted on the training frames and
        the other parts, and the factor is fitted to those errors as each round's is. Frames
        added to a GP shrink its σ faster than its errors: on acetone the last round's factor
        put 61 % of the test errors inside the saved model's ±1σ, the cross-validated one 67 %."""
        validation = self.state.validation
        folds = min(SAVED_MODEL_FOLDS, len(validation))
        errors, sigmas = [], []
        with self.hooks.progress(folds, "cross-validating the saved model") as advance:
            for fold in range(folds):
                rest = [frame for k, frame in enumerate(validation) if k % folds != fold]
                model = self.fit(self.state.train + rest, length_scale=length_scale)
                _, fold_errors, fold_sigmas = validation_errors(model, validation[fold::folds])
                errors.append(fold_errors)
                sigmas.append(fold_sigmas)
                advance(1)
        errors, sigmas = np.concatenate(errors), np.concatenate(sigmas)
        calibration = fit_calibration(errors, sigmas, "coverage")
        return {"folds": folds, "force_mae": float(np.abs(errors).mean()), "calibration_scale": calibration.scale,
                "coverage_2sigma": coverage(errors, calibration.apply(sigmas), 2.0)}

    # ---------------------------------------------------------------- steps
    def fit(self, frames: list[Atoms] | None = None, length_scale: float | None = None):
        """The GP on ``frames``, every training frame by default. The length scale is searched over
        the grid only when the data have grown by half since the last search (it moves slowly);
        in between it is kept. A ``length_scale`` given is used as it is."""
        if self.descriptors is None:
            self.descriptors = DescriptorCache(self.state.species)
        frames = self.state.train if frames is None else frames
        n_train = len(frames)
        searched = self.length_scale_search
        config = self.config.gp
        if length_scale is not None:
            config = replace(config, length_scales=(length_scale,))
        elif searched and n_train < REGRID_GROWTH * searched[0]:
            config = replace(config, length_scales=(searched[1],))
        model = fit_gp_on_baseline(frames, self.baseline, self.oracle.cache, config, self.descriptors,
                                   self.config.charge, self.config.multiplicity, workers=self.config.workers,
                                   scheduler=self.config.scheduler)
        if len(config.length_scales) > 1:
            self.length_scale_search = (n_train, gaussian_process(model).length_scale)
        return model

    def calibrate(self, model: Potential, row: dict) -> ErrorScore:
        """Calibration of σ on the validation frames, and the score it gives; identity before there
        are any. One factor that puts 68.27 % of the validation errors inside ±σ (``coverage``):
        the maximum-likelihood factor over-covers heavy-tailed force errors (on the test frames of
        the aspirin benchmark 76.5 % against 72.6 %)."""
        if not self.state.validation:
            return ErrorScore()
        metrics, errors, sigmas = validation_errors(model, self.state.validation)
        calibration = fit_calibration(errors, sigmas, "coverage")
        calibrated = calibration.apply(sigmas)
        mean_abs_per_sigma = float(np.abs(errors).mean() / max(calibrated.mean(), 1e-12))
        metrics.update(calibration_scale=calibration.scale, raw_coverage_1sigma=coverage(errors, sigmas, 1.0),
                       coverage_1sigma=coverage(errors, calibrated, 1.0), coverage_2sigma=coverage(errors, calibrated, 2.0),
                       mean_abs_per_sigma=mean_abs_per_sigma)
        row["validation"] = metrics
        expected, raw = reliability_curve(errors, sigmas)
        row["reliability"] = {"expected": expected.tolist(), "raw": raw.tolist(),
                              "calibrated": reliability_curve(errors, calibrated)[1].tolist()}
        return ErrorScore(calibration, mean_abs_per_sigma)

    def explore(self, calculator, score: ErrorScore, index: int, threshold: float) -> tuple[list[Visit], int]:
        config = self.config
        runaway = config.runaway_factor * threshold
        visits, ran_away = [], 0
        start_bonds = bonds(self.state.train[0])  # the start structure, the first seed frame
        total = len(self.state.walkers) * config.walk.steps
        with self.hooks.progress(total, f"round {index}: MD of {len(self.state.walkers)} walkers") as advance:
            for walker in self.state.walkers:
                walk = explore(walker, calculator, config.walk, seed=config.seed * 100_003 + index * 101 + walker.index,
                               score=score, threshold=threshold,
                               runaway=runaway, bonds=start_bonds, on_steps=advance)
                visits += walk.visits
                ran_away += walk.ran_away
        return visits, ran_away

    def validation_due(self, room: int) -> bool:
        """A first validation set needs one frame per temperature; a new one replaces the old only
        whole, and only once the training set has grown ``validation_refresh`` times since."""
        state, config = self.state, self.config
        if not state.validation:
            return room >= len(config.temperatures)
        grown = config.validation_refresh > 0 and len(state.train) >= config.validation_refresh * state.validation_drawn_at
        return grown and room >= config.n_validation

    def retire_validation(self) -> None:
        """The validation frames, labeled once and never trained on, join the training set."""
        if self.state.validation:
            self.state.train.extend(self.state.validation)
            self.state.validation = []
            run_files.retire_validation(self.store, self.state, self.run_dir)

    def draw_validation(self, visits: list[Visit], index: int, count: int) -> list[Visit]:
        """``count`` random frames of the model's own MD, as many from each temperature; labeled once."""
        earlier_draws = sum(1 for row in self.state.rounds if row.get("validation_drawn"))
        rng = np.random.default_rng(self.config.seed + 7 + 101 * earlier_draws)
        temperatures = sorted({v.temperature_K for v in visits})
        chosen = []
        for temperature in temperatures:
            pool = [v for v in visits if v.temperature_K == temperature]
            take = min(len(pool), count // len(temperatures))
            chosen += [pool[k] for k in sorted(rng.choice(len(pool), take, replace=False))]
        self.state.pending = [self.tagged(v, index, "validation") for v in chosen]
        self.state.pending_reason = "validation"
        self.state.validation_drawn_at = len(self.state.train)
        run_files.save_state(self.run_dir, self.state)
        self.label_pending()
        if not self.state.validation:
            raise EsmlError("no validation frame could be labeled by the oracle; see failures in the run folder")
        return chosen

    @staticmethod
    def tagged(visit: Visit, index: int, reason: str) -> Atoms:
        atoms = Atoms(visit.atoms.numbers, visit.atoms.positions, cell=visit.atoms.cell, pbc=visit.atoms.pbc)
        atoms.info.update(learn_round=index, learn_reason=reason, learn_score=visit.score,
                          learn_temperature_K=visit.temperature_K)
        return atoms

    def label_pending(self) -> dict:
        """Label the chosen frames, add them to their set, and record them in the store."""
        state = self.state
        if not state.pending:
            return {"sent": 0}
        labeled, counts = self.oracle.label(state.pending, self.hooks, state.pending_reason)
        (state.validation if state.pending_reason == "validation" else state.train).extend(labeled)
        run_files.record_in_store(self.store, state, labeled, self.run_dir)
        state.pending, state.pending_reason = [], ""
        state.oracle_calls, state.oracle_computed = self.oracle.calls, self.oracle.computed
        state.failures = list(self.oracle.failures)
        run_files.save_state(self.run_dir, state)
        self.hooks.log(f"{counts['sent']} frames to the oracle ({counts['computed']} computed, {counts['cached']} from the cache, "
                       f"{counts['failed']} failed); {self.oracle.calls} calls in all")
        return counts


def gaussian_process(model: Potential):
    """The GP itself: the model, or its correction when it sits on a baseline."""
    return model.correction if isinstance(model, DeltaPotential) else model


def _info_int(atoms: Atoms, key: str, given: int | None) -> int | None:
    return given if given is not None or key not in atoms.info else int(atoms.info[key])


#: What may change when a run is resumed: how much it may spend and how its oracle calls are run.
#: Everything else would make the rest of the run another run than its first rounds.
RESUME_CHANGES = ("budget", "max_inducing", "workers", "scheduler")


def resumed_config(run_dir: Path, **changes) -> tuple[LearnConfig, list[str]]:
    """The configuration the run in ``run_dir`` was started with, with the ``changes`` given (keys
    of RESUME_CHANGES; None keeps the run's own), and a line for each setting that changed."""
    unknown = set(changes) - set(RESUME_CHANGES)
    if unknown:
        raise EsmlError(f"{', '.join(sorted(unknown))} cannot change when a run is resumed; start a new run to change them")
    config = LearnConfig.from_json(run_files.load_record(run_dir)["config"])
    said = []
    for name, value in changes.items():
        before = config.gp.max_inducing if name == "max_inducing" else getattr(config, name)
        if value is None or value == before:
            continue
        said.append(f"{name} {before} → {value}")
        if name == "max_inducing":
            config = replace(config, gp=replace(config.gp, max_inducing=value))
        else:
            config = replace(config, **{name: value})
    return config, said


def learn(run_dir: Path, config: LearnConfig, cache: LabelCache, start: Atoms | None = None, db: str | None = None,
          hooks: Hooks | None = None) -> RunState:
    """Run the active-learning loop in ``run_dir`` to its end: a new run from ``start`` (its labeled
    frames stored in ``db``, by default the folder's store.sqlite), or without ``start`` the run
    already there, continued with ``config`` (see :func:`resumed_config`)."""
    learner = ActiveLearner(run_dir, config, cache, hooks)
    if start is None:
        learner.resume()
    else:
        learner.start(start, db)
    return learner.run()
