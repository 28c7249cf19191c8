"""Who chooses each hop's move and acceptance temperature: basin hopping's fixed choice, or a
learned policy that reads the state of the search.

The learned policy is linear-softmax in a few size-independent features of the search state, two
heads (move, temperature), trained by evolution strategies (:mod:`esml.search.training`). Its file
is JSON: weights, the feature and action names they belong to, and what it was trained on.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from esml.errors import EsmlError
from esml.search.config import BASIN_HOPPING_STEP, BASIN_HOPPING_TEMPERATURE

FEATURES = ("bias", "stagnation", "acceptance", "gap", "behind", "coordination", "improved")
ACTIONS = (("shake", 0.3), ("shake", 0.45), ("shake", 0.65), ("cap", 0.5), ("jump", 1.0), ("rotate", 0.5), ("swap", 1.0), ("restart", 1.0))
# kT as a fraction of the binding energy per unit (|E| / n for a Lennard-Jones cluster: 0.8 ε at LJ38 is 0.17)
TEMPERATURES = (0.03, 0.08, 0.2)
SHIPPED = Path(__file__).parent / "data" / "policy.json"


@dataclass(frozen=True)
class Choice:
    move: str
    size: float  # fraction of the spacing between units
    temperature: float  # fraction of the binding energy per unit


@dataclass(frozen=True)
class BasinHopping:
    """Wales and Doye's basin hopping: every hop shakes all units by ``size`` and accepts at ``temperature``."""

    size: float = BASIN_HOPPING_STEP
    temperature: float = BASIN_HOPPING_TEMPERATURE

    def choose(self, features: np.ndarray, usable: np.ndarray, rng: np.random.Generator) -> Choice:
        return Choice("shake", self.size, self.temperature)

    @property
    def description(self) -> str:
        return f"basin hopping (step {self.size:g} × spacing, kT {self.temperature:g} × binding per unit)"


@dataclass(frozen=True)
class LearnedPolicy:
    """Softmax over :data:`ACTIONS` and :data:`TEMPERATURES` of linear functions of :data:`FEATURES`."""

    move_weights: np.ndarray  # (len(ACTIONS), len(FEATURES))
    temperature_weights: np.ndarray  # (len(TEMPERATURES), len(FEATURES))
    trained_on: dict = field(default_factory=dict)

    @classmethod
    def prior(cls) -> LearnedPolicy:
        """Where training starts: mostly basin hopping's shakes, the other moves now and then, a
        restart rarely and more often the longer the walk has not improved; every temperature alike."""
        moves = np.zeros((len(ACTIONS), len(FEATURES)))
        for k, (move, _) in enumerate(ACTIONS):
            moves[k, FEATURES.index("bias")] = {"shake": 0.0, "restart": -5.0}.get(move, -1.0)
        moves[ACTIONS.index(("restart", 1.0)), FEATURES.index("stagnation")] = 3.0
        return cls(moves, np.zeros((len(TEMPERATURES), len(FEATURES))))

    @classmethod
    def from_vector(cls, vector: np.ndarray, trained_on: dict | None = None) -> LearnedPolicy:
        split = len(ACTIONS) * len(FEATURES)
        return cls(vector[:split].reshape(len(ACTIONS), len(FEATURES)),
                   vector[split:].reshape(len(TEMPERATURES), len(FEATURES)), trained_on or {})

    @property
    def vector(self) -> np.ndarray:
        return np.concatenate([self.move_weights.ravel(), self.temperature_weights.ravel()])

    def choose(self, features: np.ndarray, usable: np.ndarray, rng: np.random.Generator) -> Choice:
        move = _sample(np.where(usable, self.move_weights @ features, -np.inf), rng)
        temperature = _sample(self.temperature_weights @ features, rng)
        return Choice(*ACTIONS[move], TEMPERATURES[temperature])

    @property
    def description(self) -> str:
        sizes = self.trained_on.get("sizes")
        return "learned policy" + (f" (trained on {', '.join(sizes)})" if sizes else "")

    def save(self, path: Path) -> None:
        from esml.atomic import write_text

        record = {"features": FEATURES, "moves": ACTIONS, "temperatures": TEMPERATURES,
                  "move_weights": self.move_weights.tolist(), "temperature_weights": self.temperature_weights.tolist(),
                  "trained_on": self.trained_on}
        write_text(path, json.dumps(record, indent=1))


def _sample(logits: np.ndarray, rng: np.random.Generator) -> int:
    p = np.exp(logits - logits.max())
    return int(rng.choice(len(p), p=p / p.sum()))


def load_policy(path: str | Path) -> LearnedPolicy:
    """A policy file from ``esml search --train-policy`` (or the shipped one); refused in one line
    when it is not one, or was written for other features or moves than this esml's."""
    path = Path(path)
    try:
        record = json.loads(path.read_text())
        names = (tuple(record["features"]), tuple(map(tuple, record["moves"])), tuple(record["temperatures"]))
        policy = LearnedPolicy(np.array(record["move_weights"], float), np.array(record["temperature_weights"], float),
                               record.get("trained_on", {}))
    except (OSError, UnicodeDecodeError, ValueError, KeyError, TypeError) as error:
        raise EsmlError(f"{path}: not a search policy ({error}); give a file written by esml search or leave --policy out") from None
    if names != (FEATURES, ACTIONS, TEMPERATURES) or policy.move_weights.shape != (len(ACTIONS), len(FEATURES)) \
            or policy.temperature_weights.shape != (len(TEMPERATURES), len(FEATURES)):
        raise EsmlError(f"{path}: a policy for other features or moves than this esml's; train one again")
    return policy
