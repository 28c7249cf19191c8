"""The SISSO feature space: primary features combined, rung by rung, with unary and binary operators.

Rung 0 holds the primary features; rung r adds every unary operator applied to a rung r-1 feature
and every binary operator applied to a pair of features of rungs < r with at least one from rung r-1,
so that nothing is generated twice by construction. Dimensional analysis: ``+``, ``-`` and ``|-|``
join only features of the same unit; ``exp`` and ``log`` give a dimensionless result.

Every feature is one row of ``values`` (n_features, n_samples) plus an operator and its one or two
operands (indices of earlier features), so a formula is rebuilt, and a feature evaluated on new data,
by walking that tree. Features that are not finite, that are constant, or whose magnitude leaves
[1e-5, 1e5] are dropped (SISSO's bounds), since they are numerical noise in a linear model.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from esml.errors import EsmlError

PRIMARY = -1
UNARY = {  # name: (function, unit exponent factor, formula template); None factor means dimensionless
    "^2": (np.square, 2.0, "({})^2"),
    "^3": (lambda x: x ** 3, 3.0, "({})^3"),
    "sqrt": (np.sqrt, 0.5, "sqrt({})"),
    "cbrt": (np.cbrt, 1 / 3, "cbrt({})"),
    "inv": (np.reciprocal, -1.0, "1/({})"),
    "exp": (np.exp, None, "exp({})"),
    "exp-": (lambda x: np.exp(-x), None, "exp(-{})"),
    "log": (np.log, None, "log({})"),
}
BINARY = {  # name: (function, same units required, symmetric, formula template)
    "+": (np.add, True, True, "({} + {})"),
    "-": (np.subtract, True, True, "({} - {})"),
    "|-|": (lambda a, b: np.abs(a - b), True, True, "|{} - {}|"),
    "*": (np.multiply, False, True, "({} * {})"),
    "/": (np.divide, False, False, "({} / {})"),
}
OPERATORS = tuple(UNARY) + tuple(BINARY)
DEFAULT_OPERATORS = OPERATORS
# An operator applied to its own inverse gives back a rung-lower feature.
_UNDOES = {"sqrt": "^2", "^2": "sqrt", "cbrt": "^3", "^3": "cbrt", "inv": "inv", "log": "exp", "exp": "log"}
BOUNDS = (1e-5, 1e5)
MAX_BYTES = 6e9


class FeatureSpaceError(EsmlError):
    """Primary features or operators that cannot make a feature space."""


@dataclass
class FeatureSpace:
    """All features of a space, as values on the training samples and as expression trees.

    values: (n_features, n_samples); operator: (n_features,) index into OPERATORS, or PRIMARY;
    first, second: (n_features,) operand indices (for a primary feature, ``first`` is its column);
    units: (n_features, n_base_units) exponents over ``base_units``; rung: (n_features,);
    complexity: (n_features,) operators in the feature's tree, to prefer the simplest of equal features.
    """

    names: list[str]
    base_units: list[str]
    values: np.ndarray
    operator: np.ndarray
    first: np.ndarray
    second: np.ndarray
    units: np.ndarray
    rung: np.ndarray
    complexity: np.ndarray

    def __len__(self) -> int:
        return len(self.operator)

    def expression(self, index: int) -> str:
        op = int(self.operator[index])
        if op == PRIMARY:
            return self.names[int(self.first[index])]
        name = OPERATORS[op]
        if name in UNARY:
            return UNARY[name][2].format(self.expression(int(self.first[index])))
        return BINARY[name][3].format(self.expression(int(self.first[index])), self.expression(int(self.second[index])))

    def evaluate(self, index: int, primary: np.ndarray) -> np.ndarray:
        """Feature ``index`` on new samples; ``primary`` is (n_samples, n_primary) in the training columns' order."""
        op = int(self.operator[index])
        if op == PRIMARY:
            return np.asarray(primary[:, int(self.first[index])], dtype=float)
        name = OPERATORS[op]
        with np.errstate(all="ignore"):
            if name in UNARY:
                return UNARY[name][0](self.evaluate(int(self.first[index]), primary))
            return BINARY[name][0](self.evaluate(int(self.first[index]), primary),
                                   self.evaluate(int(self.second[index]), primary))


def parse_units(names: list[str], units: list[str] | None) -> tuple[list[str], np.ndarray]:
    """Unit symbols per primary feature ('' or '1' for dimensionless) as exponent vectors."""
    units = units if units is not None else [""] * len(names)
    if len(units) != len(names):
        raise FeatureSpaceError(f"{len(units)} units for {len(names)} features; give one unit per feature "
                                "('1' for dimensionless)")
    symbols = sorted({u for u in units if u not in ("", "1")})
    exponents = np.zeros((len(names), len(symbols)))
    for row, unit in enumerate(units):
        if unit not in ("", "1"):
            exponents[row, symbols.index(unit)] = 1.0
    return symbols, exponents


def build_feature_space(primary: np.ndarray, names: list[str], units: list[str] | None = None, rung: int = 2,
                        operators: tuple[str, ...] = DEFAULT_OPERATORS) -> FeatureSpace:
    """All features up to ``rung`` built from ``primary`` (n_samples, n_primary)."""
    primary = np.asarray(primary, dtype=float)
    _check_primary(primary, names, operators, rung)
    base_units, unit_rows = parse_units(names, units)
    n = primary.shape[1]
    space = FeatureSpace(list(names), base_units, primary.T.copy(), np.full(n, PRIMARY), np.arange(n),
                         np.full(n, -1), unit_rows, np.zeros(n, dtype=int), np.zeros(n, dtype=int))
    for level in range(1, rung + 1):
        _check_size(space, level, operators)
        blocks = _unary_blocks(space, level, operators) + _binary_blocks(space, level, operators)
        space = _append(space, blocks, level)
    return space


def _check_primary(primary: np.ndarray, names: list[str], operators: tuple[str, ...], rung: int) -> None:
    if primary.ndim != 2 or primary.shape[1] != len(names) or not names:
        raise FeatureSpaceError("primary features must be a table with one named column per feature")
    if not np.isfinite(primary).all():
        raise FeatureSpaceError("a primary feature has a missing or non-finite value; fill or drop those rows")
    unknown = [op for op in operators if op not in OPERATORS]
    if unknown:
        raise FeatureSpaceError(f"unknown operator(s) {', '.join(unknown)}; use some of {' '.join(OPERATORS)}")
    if rung not in (0, 1, 2, 3):
        raise FeatureSpaceError(f"rung {rung} is not supported; use 0, 1, 2 or 3")


def _check_size(space: FeatureSpace, level: int, operators: tuple[str, ...]) -> None:
    """Refuse, before allocating, a space that would not fit in memory."""
    newest = int((space.rung == level - 1).sum())
    older = len(space) - newest
    pairs = newest * (newest - 1) / 2 + newest * older
    estimate = len(space) + newest * len(operators) + pairs * (len(operators) + 1)
    if estimate * space.values.shape[1] * 8 > MAX_BYTES:
        raise FeatureSpaceError(f"rung {level} would hold up to {estimate:.3g} features, more than fits in memory; "
                                "use a lower rung, fewer primary features or fewer operators")


def _unary_blocks(space: FeatureSpace, level: int, operators: tuple[str, ...]) -> list[tuple]:
    blocks = []
    source = np.flatnonzero(space.rung == level - 1)
    last_ops = space.operator[source]
    for name in (op for op in operators if op in UNARY):
        function, factor, _ = UNARY[name]
        undone = OPERATORS.index(_UNDOES[name]) if name in _UNDOES else None
        keep = source[last_ops != undone] if undone is not None else source
        with np.errstate(all="ignore"):
            values = function(space.values[keep])
        units = np.zeros_like(space.units[keep]) if factor is None else space.units[keep] * factor
        blocks.append((values, OPERATORS.index(name), keep, np.full(len(keep), -1), units))
    return blocks


def _binary_blocks(space: FeatureSpace, level: int, operators: tuple[str, ...]) -> list[tuple]:
    blocks = []
    newest = np.flatnonzero(space.rung == level - 1)
    for i in newest:
        later_newest = (np.arange(len(space)) > i) & (space.rung == level - 1)
        partners = np.flatnonzero((space.rung < level - 1) | later_newest)
        for name in (op for op in operators if op in BINARY):
            blocks.extend(_pair_block(space, name, i, partners))
    return blocks


def _pair_block(space: FeatureSpace, name: str, i: int, partners: np.ndarray) -> list[tuple]:
    function, same_units, symmetric, _ = BINARY[name]
    if same_units:
        partners = partners[(space.units[partners] == space.units[i]).all(axis=1)]
    if not len(partners):
        return []
    a = np.broadcast_to(space.values[i], (len(partners), space.values.shape[1]))
    b = space.values[partners]
    op = OPERATORS.index(name)
    first = np.full(len(partners), i)
    if name == "*":
        units = space.units[i] + space.units[partners]
    elif name == "/":
        units = space.units[i] - space.units[partners]
    else:
        units = np.broadcast_to(space.units[i], space.units[partners].shape).copy()
    with np.errstate(all="ignore"):
        blocks = [(function(a, b), op, first, partners, units)]
        if not symmetric:
            blocks.append((function(b, a), op, partners, first, -units))
    return blocks


def _append(space: FeatureSpace, blocks: list[tuple], level: int) -> FeatureSpace:
    values, operator, first, second, units = [space.values], [space.operator], [space.first], [space.second], [space.units]
    for block_values, op, block_first, block_second, block_units in blocks:
        keep = usable(block_values)
        values.append(block_values[keep])
        operator.append(np.full(int(keep.sum()), op))
        first.append(block_first[keep])
        second.append(block_second[keep])
        units.append(block_units[keep])
    added = sum(len(o) for o in operator[1:])
    first, second = np.concatenate(first), np.concatenate(second)
    new_first, new_second = first[len(space):], second[len(space):]
    complexity = 1 + space.complexity[new_first] + np.where(new_second >= 0, space.complexity[new_second], 0)
    return FeatureSpace(space.names, space.base_units, np.concatenate(values), np.concatenate(operator),
                        first, second, np.concatenate(units), np.concatenate([space.rung, np.full(added, level)]),
                        np.concatenate([space.complexity, complexity]))


def usable(values: np.ndarray) -> np.ndarray:
    """Rows (features) that are finite, not constant, and inside SISSO's magnitude bounds."""
    finite = np.isfinite(values).all(axis=1)
    with np.errstate(all="ignore"):
        magnitude = np.abs(values).max(axis=1)
        spread = values.std(axis=1)
    return finite & (magnitude >= BOUNDS[0]) & (magnitude <= BOUNDS[1]) & (spread > 1e-10 * np.maximum(magnitude, 1e-300))
