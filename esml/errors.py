"""Errors that a user can act on.

An :class:`EsmlError` carries one line saying what was wrong and what to do; the CLI
prints it without a traceback and exits non-zero. Anything else is a bug in esml.
An :class:`EsmlWarning` (raised with ``warnings.warn``) says, in one line, that a result is
weaker than it looks; the CLI prints it as ``esml: warning: …`` and goes on.
"""


class EsmlError(Exception):
    """A problem with the user's input or environment, explained in one line."""


class StructureError(EsmlError):
    """A structure that cannot be computed as given (charge, spin, elements)."""


class OverlapError(StructureError):
    """Two atoms closer than any potential is trained for; ``pair`` and ``distance`` (Å) say which."""

    def __init__(self, message: str, pair: tuple[int, int], distance: float):
        super().__init__(message)
        self.pair, self.distance = pair, distance

    def __reduce__(self):  # crosses process pools whole
        return type(self), (str(self), self.pair, self.distance)


class MethodError(EsmlError):
    """A method string or setting that esml does not understand."""


class ConvergenceError(EsmlError):
    """A self-consistent-field calculation that did not converge."""


class EsmlWarning(UserWarning):
    """A result weaker than it looks (too little data, a model used outside what it learned)."""
