"""Reading a user's CSV table for a command, with one line for a file or a column that is not there."""

from __future__ import annotations

from pathlib import Path

from esml.errors import EsmlError


def read_table(path: Path, columns: list[str], hint: str = ""):
    """The table as a pandas DataFrame that has every one of ``columns``."""
    import pandas as pd

    try:
        table = pd.read_csv(path)
    except (OSError, ValueError) as error:
        raise EsmlError(f"cannot read {path} as CSV ({error})") from None
    missing = [c for c in columns if c not in table.columns]
    if missing:
        raise EsmlError(f"column(s) {', '.join(missing)} not in {path}; its columns are "
                        f"{', '.join(map(str, table.columns))}{hint}")
    return table
