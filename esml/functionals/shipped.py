"""Learned functionals that ship with esml, by the name a method string uses.

Kept free of torch and PySCF imports: ``esml.qm`` parses method strings without loading an engine.
"""

from __future__ import annotations

from pathlib import Path

from esml.errors import MethodError

DATA = Path(__file__).parent / "data"
# esml-xc1: `esml xc train` (its defaults) on the 35 training molecules with references; its training
# record is in the file's metadata and its held-out scores in BENCHMARKS.md (issue #8).
SHIPPED: dict[str, Path] = {"esml-xc1": DATA / "esml-xc1.pt"}
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
