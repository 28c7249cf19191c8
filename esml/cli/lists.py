"""Comma-separated numbers given on the command line (sizes, temperatures, disorders)."""

from __future__ import annotations

from collections.abc import Callable

from esml.errors import EsmlError


def numbers(text: str, option: str, convert: Callable[[str], float] = float, what: str = "numbers",
            example: str = "1,2,3") -> tuple:
    """The values of ``text`` ('8,10,12'), or one line saying what ``option`` wants."""
    try:
        return tuple(convert(part) for part in text.split(",") if part.strip())
    except ValueError:
        raise EsmlError(f"{option} {text!r}: give {what} separated by commas, e.g. {example}") from None
