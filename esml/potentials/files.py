"""Saving and loading potentials: one ``.pt`` file holds the family, its configuration,
its weights and what the training recorded; nothing in it is executed on load."""

from __future__ import annotations

from pathlib import Path

import torch

from esml import __version__
from esml.calculator import PotentialCalculator
from esml.errors import EsmlError
from esml.potential import Potential
from esml.potentials.ani import ANIPotential
from esml.potentials.cgcnn import CGCNNPotential
from esml.potentials.delta import DeltaPotential
from esml.potentials.dipole import DipolePotential
from esml.potentials.ensemble import Ensemble
from esml.potentials.gp import GaussianProcessPotential
from esml.potentials.mace import MACEPotential
from esml.potentials.painn import PaiNNPotential

#: The families `esml train` fits from scratch; a new family is one line here.
FAMILIES: dict[str, type[Potential]] = {"ani": ANIPotential, "painn": PaiNNPotential, "mace": MACEPotential,
                                        "gp": GaussianProcessPotential, "cgcnn": CGCNNPotential}
#: Every kind a model file may hold: the families, and what is built of them.
KINDS: dict[str, type[Potential]] = {**FAMILIES, "ensemble": Ensemble, "delta": DeltaPotential, "dipole": DipolePotential}


def build(kind: str, config: dict) -> Potential:
    """The potential of ``kind`` that ``config`` describes (as ``Potential.config()`` wrote it)."""
    if kind not in KINDS:
        raise EsmlError(f"unknown model family {kind!r}; choose one of {', '.join(FAMILIES)}")
    return KINDS[kind].from_config(config, build)


def save(potential: Potential, path: str | Path, metadata: dict | None = None) -> None:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    payload = {"kind": potential.kind, "config": potential.config(), "state": potential.state_dict(),
               "metadata": metadata or {}, "esml_version": __version__}
    temporary = path.with_name(path.name + ".tmp")
    torch.save(payload, temporary)
    temporary.replace(path)  # a crash while saving never leaves half a model behind


def read_payload(path: str | Path) -> dict:
    path = Path(path)
    if not path.exists():
        raise EsmlError(f"{path}: no such model file; train one with `esml train`")
    try:
        payload = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as error:  # torch raises many types for files it cannot read
        raise EsmlError(f"{path}: not an esml model file ({type(error).__name__}); give a file written by `esml train`") from None
    if not isinstance(payload, dict) or not {"kind", "config", "state"} <= set(payload):
        raise EsmlError(f"{path}: a torch file, but not an esml model (no family, settings and weights); "
                        "give a file written by `esml train` or `esml learn`")
    return payload


def load(path: str | Path) -> Potential:
    return load_with_metadata(path)[0]


def load_with_metadata(path: str | Path) -> tuple[Potential, dict]:
    """The potential and what its training recorded (``calibration_scale``: the force-σ factor
    ``esml learn`` fitted), from one read of the file: a large GP's file is tens of MB."""
    payload = read_payload(path)
    potential = build(payload["kind"], payload["config"])
    try:
        potential.load_state_dict(payload["state"])
    except RuntimeError:  # missing or unexpected weights: the family's layout changed since the file was written
        raise EsmlError(f"{path}: its weights do not fit this esml's {payload['kind']} model (written by an esml whose "
                        f"{payload['kind']} had another layout); train it again") from None
    return potential.eval(), payload["metadata"]


def load_calculator(path: str | Path, **kwargs) -> PotentialCalculator:
    """An ASE calculator for a saved model file, with the force-σ calibration ``esml learn`` saved in it."""
    potential, recorded = load_with_metadata(path)
    kwargs.setdefault("force_sigma_scale", recorded.get("calibration_scale") or 1.0)
    return PotentialCalculator(potential, **kwargs)


def metadata(path: str | Path) -> dict:
    return read_payload(path)["metadata"]
