"""Learned functionals that ship with esml, by the name a method string uses.

Kept free of torch and PySCF imports: ``esml.qm`` parses method strings without loading an engine.
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
