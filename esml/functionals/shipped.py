"""Learned functionals as a plug-in of the method grammar and of the PySCF engine.

Registered under the ``esml.learned_functionals`` entry point (pyproject.toml): :mod:`esml.methods`
asks it which names are learned functionals (shipped ones by name, any file as ``xc:PATH``) and
:mod:`esml.qm.pyscf_engine` asks it for their Kohn–Sham objects and gradients, so neither imports
this package. Kept free of torch and PySCF imports at module level: method strings are parsed
without loading an engine.
"""

from __future__ import annotations

from pathlib import Path

from esml.errors import MethodError

DATA = Path(__file__).parent / "data"
# Training records in the files' metadata, held-out scores in BENCHMARKS.md (issue #8).
# esml-xc1: `esml xc train` (its defaults), a global hybrid, on 35 training molecules.
# esml-xc2: `esml xc train --range-separation 0.3 --delocalisation-weight 0.05`, range-separated, on 35.
# esml-xc3: esml-xc2's recipe on all 39 training molecules, once their references were complete.
SHIPPED: dict[str, Path] = {name: DATA / f"{name}.pt" for name in ("esml-xc1", "esml-xc2", "esml-xc3")}
PATH_PREFIX = "xc:"  # xc:PATH/BASIS names a functional file written by `esml xc train`


def is_learned(name: str) -> bool:
    return name in SHIPPED or name.startswith(PATH_PREFIX)


def functional_file(name: str) -> Path:
    """The model file behind a shipped name or an ``xc:PATH`` method name."""
    path = SHIPPED[name] if name in SHIPPED else Path(name[len(PATH_PREFIX):]).expanduser()
    if not path.is_file():
        raise MethodError(f"{name}: no functional file at {path}; train one with `esml xc train --out FILE` "
                          f"and name it xc:FILE")
    return path


def kohn_sham(mol, name: str):
    """An unconverged RKS/UKS object of PySCF's for the learned functional ``name``."""
    from esml.functionals.model import load
    from esml.functionals.numint import learned_kohn_sham

    model, _ = load(functional_file(name))
    return learned_kohn_sham(mol, model, name=name)


def nuclear_gradient(mean_field):
    """Analytic nuclear gradient (Hartree/Bohr) of a converged learned-functional calculation."""
    from esml.functionals.numint import nuclear_gradient as gradient

    return gradient(mean_field)
