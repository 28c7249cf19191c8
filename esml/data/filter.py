"""The OPTIMADE filter language, translated to SQL.

The ``optimade`` package parses (its Lark grammar, v1.2); this module turns the tree into one
SQLAlchemy expression over the columns a ``Vocabulary`` names. ``STRUCTURES`` is the store's
vocabulary: ``calculations`` joined to ``structures``. Every value a user writes becomes a bound
parameter, never SQL text. OPTIMADE's rule that a comparison with an unknown (NULL) value is false,
and stays false under NOT, is kept by guarding each comparison.

Structure properties: the OPTIMADE fields below, ``_esml_*`` columns, and ``_esml_<name>`` for any
scalar in a calculation's ``properties`` (QM9's ``_esml_homo``, ``_esml_gap``, …).
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timezone
from functools import cache

import sqlalchemy as sa
from lark import Token, Transformer, v_args

from esml.data.schema import calculations, dataset_members, datasets, sources, structure_elements, structures
from esml.errors import EsmlError


class FilterError(EsmlError):
    """A filter that does not parse, names an unknown property, or compares unlike types."""


class FilterNotSupported(FilterError):
    """Valid OPTIMADE that esml does not evaluate (an API answers 501 Not Implemented, not 400)."""


@dataclass(frozen=True)
class Property:
    """A filterable property: its SQL expression and its OPTIMADE type. ``equals``, when given,
    builds ``=`` from the value another way (an indexed integer key behind a string id)."""

    column: sa.ColumnElement
    type: str  # "string", "integer", "float", "timestamp"
    equals: Callable[[object], sa.ColumnElement[bool]] | None = None


@dataclass(frozen=True)
class ListProperty:
    """A list of strings: membership, HAS ONLY and LENGTH as SQL."""

    contains: Callable[[str], sa.ColumnElement[bool]]
    only: Callable[[list[str]], sa.ColumnElement[bool]] | None = None
    length: sa.ColumnElement | None = None


@dataclass(frozen=True)
class Vocabulary:
    """The properties a filter on one entry type may name.

    ``served``: properties the entries carry but no filter can use (a filter naming one is valid
    OPTIMADE that esml does not evaluate). ``extra``: a JSON column whose scalars a filter names as
    ``_esml_<key>``."""

    scalars: dict[str, Property]
    lists: dict[str, ListProperty] = field(default_factory=dict)
    arrays: dict[str, sa.ColumnElement] = field(default_factory=dict)  # presence only: IS KNOWN
    served: frozenset[str] = frozenset()
    extra: sa.ColumnElement | None = None

    def names(self) -> list[str]:
        return sorted([*self.scalars, *self.lists, *self.arrays])


PROVIDER_PREFIX = "esml"
OPERATORS = {"=": "__eq__", "!=": "__ne__", "<": "__lt__", "<=": "__le__", ">": "__gt__", ">=": "__ge__"}
REVERSED = {"<": ">", "<=": ">=", ">": "<", ">=": "<=", "=": "=", "!=": "!="}


def _element_in_structure(symbol: str) -> sa.ColumnElement[bool]:
    return sa.exists().where(structure_elements.c.structure_id == structures.c.id,
                             structure_elements.c.element == symbol)


def _only_elements(symbols: list[str]) -> sa.ColumnElement[bool]:
    return ~sa.exists().where(structure_elements.c.structure_id == structures.c.id,
                              structure_elements.c.element.not_in(symbols))


def _calculation_id_is(text: str) -> sa.ColumnElement[bool]:
    # Ids are the decimal row keys; "7" names a row, "07" or "x" none.
    return calculations.c.id == int(text) if text.isdecimal() and str(int(text)) == text else sa.false()


def _in_dataset(name: str) -> sa.ColumnElement[bool]:
    return sa.exists().where(dataset_members.c.calculation_id == calculations.c.id,
                             dataset_members.c.dataset_id == datasets.c.id, datasets.c.name == name)


STRUCTURES = Vocabulary(
    scalars={
        "id": Property(sa.cast(calculations.c.id, sa.String), "string", _calculation_id_is),  # OPTIMADE ids are strings
        "immutable_id": Property(calculations.c.hash, "string"),
        "nsites": Property(structures.c.nsites, "integer"),
        "nelements": Property(structures.c.nelements, "integer"),
        "chemical_formula_reduced": Property(structures.c.formula_reduced, "string"),
        "chemical_formula_hill": Property(structures.c.formula_hill, "string"),
        "chemical_formula_anonymous": Property(structures.c.formula_anonymous, "string"),
        "chemical_formula_descriptive": Property(structures.c.formula_hill, "string"),
        "nperiodic_dimensions": Property(structures.c.nperiodic, "integer"),
        "last_modified": Property(calculations.c.created, "timestamp"),
        "_esml_code": Property(calculations.c.code, "string"),
        "_esml_code_version": Property(calculations.c.code_version, "string"),
        "_esml_method": Property(calculations.c.method, "string"),
        "_esml_functional": Property(calculations.c.functional, "string"),
        "_esml_basis": Property(calculations.c.basis, "string"),
        "_esml_dispersion": Property(calculations.c.dispersion, "string"),
        "_esml_charge": Property(calculations.c.charge, "integer"),
        "_esml_multiplicity": Property(calculations.c.multiplicity, "integer"),
        "_esml_energy": Property(calculations.c.energy, "float"),
        "_esml_energy_per_atom": Property(calculations.c.energy / structures.c.nsites, "float"),
        "_esml_band_gap": Property(calculations.c.band_gap, "float"),
        "_esml_frame": Property(calculations.c.frame, "integer"),
        "_esml_source": Property(sources.c.path, "string"),
    },
    lists={
        "elements": ListProperty(_element_in_structure, _only_elements, structures.c.nelements),
        # Species are named by their element, so a site list holds an element exactly when `elements` does.
        "species_at_sites": ListProperty(_element_in_structure, _only_elements, structures.c.nsites),
        "_esml_dataset": ListProperty(_in_dataset),
        "structure_features": ListProperty(lambda _: sa.false(), length=sa.literal(0)),  # esml stores none
    },
    arrays={f"_esml_{name}": calculations.c[name] for name in ("forces", "stress", "dipole", "charges")},
    served=frozenset({"elements_ratios", "dimension_types", "lattice_vectors", "cartesian_site_positions",
                      "species", "assemblies", "space_group_symmetry_operations_xyz",
                      "space_group_symbol_hall", "space_group_symbol_hermann_mauguin",
                      "space_group_symbol_hermann_mauguin_extended", "space_group_it_number"}),
    extra=calculations.c.properties,
)


@cache
def _parser():
    from optimade.filterparser import LarkParser

    return LarkParser(version=(1, 2, 0))


def parse_filter(text: str, vocabulary: Vocabulary = STRUCTURES) -> sa.ColumnElement[bool]:
    """The SQL condition for an OPTIMADE filter; an empty filter matches everything."""
    if not text.strip():
        return sa.true()
    return condition_from_tree(parse_tree(text), vocabulary)


#: Limits that keep one filter from tying up a store or a server: longer or deeper filters than
#: anyone writes by hand are refused before parsing (a 59 kB filter took 6 s to parse and slowed
#: every other request; 300 nested parentheses overflowed Python's stack).
MAX_FILTER_CHARACTERS = 4096
MAX_NESTING = 32  # parentheses inside parentheses
MAX_TERMS = 256  # AND / OR connectives
LARGEST_INTEGER = 2**63 - 1  # what a database integer holds


def check_filter_size(text: str) -> None:
    """One line for a filter over the limits above; quoted strings do not count towards nesting or terms."""
    if len(text) > MAX_FILTER_CHARACTERS:
        raise FilterError(f"filter of {len(text):,} characters; at most {MAX_FILTER_CHARACTERS:,} are accepted")
    outside = re.sub(r'"(?:[^"\\]|\\.)*"', '""', text)
    depth = deepest = 0
    for character in outside:
        depth += (character == "(") - (character == ")")
        deepest = max(deepest, depth)
    if deepest > MAX_NESTING:
        raise FilterError(f"filter nested {deepest} parentheses deep; at most {MAX_NESTING} are accepted")
    terms = len(re.findall(r"\b(?:AND|OR)\b", outside))
    if terms > MAX_TERMS:
        raise FilterError(f"filter joins {terms + 1} conditions; at most {MAX_TERMS + 1} are accepted (use HAS ANY for lists)")


def parse_tree(text: str):
    """The ``optimade`` parser's Lark tree of a filter, or one line saying where it goes wrong."""
    check_filter_size(text)
    try:
        return _parser().lark.parse(text)
    except Exception as error:  # lark raises several types; all mean "not in the grammar"
        raise FilterError(f"filter does not parse: {_parse_problem(error)}; see the OPTIMADE filter grammar") from None


def condition_from_tree(tree, vocabulary: Vocabulary = STRUCTURES) -> sa.ColumnElement[bool]:
    """The SQL condition for a parsed filter (the ``optimade`` parser's Lark tree)."""
    from optimade.exceptions import BadRequest

    try:
        condition = FilterToSQL(vocabulary).transform(tree)
    except BadRequest as error:
        raise FilterError(str(error.detail)) from None
    except RecursionError:
        raise FilterError(f"filter nested too deeply; at most {MAX_NESTING} levels are accepted") from None
    except Exception as error:
        original = getattr(error, "orig_exc", error)  # lark wraps what a rule raises
        if isinstance(original, FilterError):
            raise original from None
        raise
    return sa.true() if condition is None else condition


def _parse_problem(error: Exception) -> str:
    from lark.exceptions import UnexpectedCharacters, UnexpectedEOF, UnexpectedToken

    if isinstance(error, UnexpectedEOF) or (isinstance(error, UnexpectedToken) and error.token.type == "$END"):
        return "it ends too early"
    if isinstance(error, UnexpectedToken):
        return f"unexpected {str(error.token)!r} at column {error.column}"
    if isinstance(error, UnexpectedCharacters):
        return f"unexpected character {error.char!r} at column {error.column}"
    return type(error).__name__


def _checked_int(token) -> int:
    value = int(token)
    if abs(value) > LARGEST_INTEGER:
        raise FilterError(f"number {str(token)[:24]}… is beyond what a stored integer can hold (±{LARGEST_INTEGER})")
    return value


def _checked_float(token) -> float:
    value = float(token)
    if not math.isfinite(value):
        raise FilterError(f"number {str(token)[:24]} is not finite")
    return value


class FilterToSQL(Transformer):
    """Lark tree (OPTIMADE grammar) -> SQLAlchemy boolean expression over a vocabulary's columns."""

    def __init__(self, vocabulary: Vocabulary):
        super().__init__()
        self.vocabulary = vocabulary

    # --- values ---------------------------------------------------------------------------
    def filter(self, children):
        return children[0] if children else None

    @v_args(inline=True)
    def string(self, token):
        return _unescape(str(token))

    @v_args(inline=True)
    def number(self, token):
        return _checked_int(token) if token.type == "SIGNED_INT" else _checked_float(token)

    @v_args(inline=True)
    def signed_int(self, token):
        return _checked_int(token)

    def bool(self, children):
        raise FilterError("boolean values are not supported by any esml property")

    @v_args(inline=True)
    def constant(self, value):
        return value

    @v_args(inline=True)
    def value(self, value):
        return value

    @v_args(inline=True)
    def non_string_value(self, value):
        return value

    @v_args(inline=True)
    def not_implemented_string(self, value):
        return value

    def property(self, children):
        if len(children) > 1:
            raise FilterNotSupported(f"nested property {'.'.join(map(str, children))!r} is not supported")
        return PropertyName(str(children[0]))

    def value_list(self, children):
        if any(isinstance(child, Token) and child.type == "OPERATOR" for child in children):
            raise FilterNotSupported("operators inside HAS ALL/ANY/ONLY lists are not supported")
        return list(children)

    # --- logic ----------------------------------------------------------------------------
    def expression(self, children):
        return children[0] if len(children) == 1 else sa.or_(*children)

    def expression_clause(self, children):
        return children[0] if len(children) == 1 else sa.and_(*children)

    def expression_phrase(self, children):
        if len(children) == 2:  # NOT phrase
            return sa.not_(children[1])
        return children[0]

    @v_args(inline=True)
    def comparison(self, value):
        return value

    # --- comparisons ----------------------------------------------------------------------
    def property_first_comparison(self, children):
        name, (kind, *args) = children
        if not isinstance(name, PropertyName):
            raise FilterError("the left side of a comparison must be a property")
        return getattr(self, f"_{kind}")(name, *args)

    def constant_first_comparison(self, children):
        constant, operator, other = children
        if not isinstance(other, PropertyName):
            raise FilterError("a comparison needs a property on one side")
        return self._value(other, REVERSED[str(operator)], constant)

    def value_op_rhs(self, children):
        operator, value = children
        return ("value", str(operator), value)

    def known_op_rhs(self, children):
        return ("known", str(children[1]) == "KNOWN")

    def fuzzy_string_op_rhs(self, children):
        operator, value = str(children[0]), children[-1]
        return ("fuzzy", operator, value)

    def set_op_rhs(self, children):
        rest = children[1:]  # after HAS: [value], [OPERATOR, value] or [ALL|ANY|ONLY, list]
        if isinstance(rest[0], Token) and rest[0].type in ("ALL", "ANY", "ONLY"):
            return ("has", rest[0].type, rest[1])
        operator = str(rest[0]) if len(rest) == 2 else "="
        return ("has", "OP", (operator, rest[-1]))

    def length_op_rhs(self, children):
        operator = str(children[1]) if len(children) == 3 else "="
        return ("length", operator, children[-1])

    def set_zip_op_rhs(self, children):
        raise FilterNotSupported("zipped HAS (a:b HAS ...) is not supported")

    # --- builders -------------------------------------------------------------------------
    def _value(self, name: PropertyName, operator: str, value) -> sa.ColumnElement[bool]:
        if isinstance(value, PropertyName):
            raise FilterNotSupported("comparing two properties is not supported")
        if name.text in self.vocabulary.lists:
            raise FilterError(f"{name.text!r} is a list: use HAS, HAS ALL, HAS ANY, HAS ONLY or LENGTH")
        prop = self._scalar(name.text, value)
        if prop is None:
            return sa.false()  # another provider's property: unknown here, so the comparison is false
        value = _checked_value(name.text, prop, value)
        if prop.equals is not None and operator in ("=", "!="):
            return prop.equals(value) if operator == "=" else sa.not_(prop.equals(value))
        return sa.and_(prop.column.is_not(None), getattr(prop.column, OPERATORS[operator])(value))

    def _known(self, name: PropertyName, known: bool) -> sa.ColumnElement[bool]:
        if name.text in self.vocabulary.arrays:
            column = self.vocabulary.arrays[name.text]
        elif name.text in self.vocabulary.lists:
            return sa.true() if known else sa.false()
        else:
            prop = self._scalar(name.text, None)
            if prop is None:
                return sa.false() if known else sa.true()
            column = prop.column
        return column.is_not(None) if known else column.is_(None)

    def _fuzzy(self, name: PropertyName, operator: str, value) -> sa.ColumnElement[bool]:
        prop = self._scalar(name.text, value)
        if prop is None:
            return sa.false()
        if prop.type != "string" or not isinstance(value, str):
            raise FilterError(f"{operator} needs a string property and a string value ({name.text!r})")
        pattern = _like_escape(value)
        pattern = {"CONTAINS": f"%{pattern}%", "STARTS": f"{pattern}%", "ENDS": f"%{pattern}"}[operator]
        return sa.and_(prop.column.is_not(None), prop.column.like(pattern, escape="\\"))

    def _has(self, name: PropertyName, kind: str, argument) -> sa.ColumnElement[bool]:
        prop = self._list(name.text, "HAS")
        if prop is None:
            return sa.false()
        if kind == "OP":
            operator, value = argument
            if operator != "=":
                raise FilterNotSupported("HAS with an operator other than = is not supported")
            return prop.contains(_checked_string(name.text, value))
        values = [_checked_string(name.text, value) for value in argument]
        if kind == "ALL":
            return sa.and_(*(prop.contains(value) for value in values))
        if kind == "ANY":
            return sa.or_(*(prop.contains(value) for value in values))
        if prop.only is None:
            raise FilterNotSupported(f"HAS ONLY is not supported for {name.text!r}")
        return prop.only(values)

    def _length(self, name: PropertyName, operator: str, value: int) -> sa.ColumnElement[bool]:
        prop = self._list(name.text, "LENGTH")
        if prop is None:
            return sa.false()
        if prop.length is None:
            raise FilterNotSupported(f"LENGTH is not supported for {name.text!r}")
        return getattr(prop.length, OPERATORS[operator])(value)

    def _list(self, name: str, operator: str) -> ListProperty | None:
        if name in self.vocabulary.lists:
            return self.vocabulary.lists[name]
        if name in self.vocabulary.served:
            raise FilterNotSupported(f"filters on {name!r} are not supported")
        if name.startswith("_") and not name.startswith(f"_{PROVIDER_PREFIX}_"):
            return None
        lists = ", ".join(self.vocabulary.lists)
        raise FilterError(f"{operator} needs a list property ({lists}), not {name!r}")

    def _scalar(self, name: str, value) -> Property | None:
        """The property, a JSON ``extra`` entry for other ``_esml_`` names, or None for another
        provider's prefix (OPTIMADE: unknown, not an error)."""
        vocabulary = self.vocabulary
        if name in vocabulary.scalars:
            return vocabulary.scalars[name]
        if name in vocabulary.arrays:
            raise FilterError(f"{name!r} is an array: only '{name} IS KNOWN' or 'IS UNKNOWN' can filter on it")
        if name in vocabulary.served:
            raise FilterNotSupported(f"filters on {name!r} are not supported")
        prefix = f"_{PROVIDER_PREFIX}_"
        if name.startswith(prefix) and vocabulary.extra is not None:
            entry = vocabulary.extra[name[len(prefix):]]
            if isinstance(value, str):
                return Property(entry.as_string(), "string")
            return Property(entry.as_float(), "float")
        if name.startswith("_") and not name.startswith(prefix):
            return None
        hint = ", or _esml_<name> for a stored scalar such as _esml_homo" if vocabulary.extra is not None else ""
        raise FilterError(f"unknown property {name!r}; filterable: {', '.join(vocabulary.names())}{hint}")


@dataclass(frozen=True)
class PropertyName:
    text: str


def _checked_value(name: str, prop: Property, value):
    """The value to bind, once its type matches the property's; timestamps become datetimes."""
    numeric = prop.type in ("integer", "float")
    if numeric and not isinstance(value, (int, float)):
        raise FilterError(f"{name!r} is a number: compare it with a number, not {value!r}")
    if prop.type in ("string", "timestamp") and not isinstance(value, str):
        raise FilterError(f"{name!r} is a {prop.type}: compare it with a quoted string, not {value!r}")
    return _timestamp(name, value) if prop.type == "timestamp" else value


def _timestamp(name: str, text: str) -> datetime:
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        raise FilterError(f"{name!r} is a timestamp: write it like \"2026-01-31T12:00:00Z\", not {text!r}") from None
    # Stored times are UTC; a time written without a zone is taken as UTC.
    return moment.astimezone(timezone.utc) if moment.tzinfo else moment.replace(tzinfo=timezone.utc)


def _checked_string(name: str, value) -> str:
    if not isinstance(value, str):
        raise FilterError(f"{name!r} holds strings: write the values in double quotes")
    return value


def _unescape(token: str) -> str:
    # OPTIMADE strings escape only \" and \\ ; the token still carries its quotes.
    return re.sub(r"\\(.)", r"\1", token[1:-1])


def _like_escape(value: str) -> str:
    return value.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


def entries_query(condition: sa.ColumnElement[bool]) -> sa.Select:
    """Calculations joined to their structure and source, filtered."""
    joined = calculations.join(structures, calculations.c.structure_id == structures.c.id).outerjoin(
        sources, calculations.c.source_id == sources.c.id)
    return sa.select(calculations, structures.c.numbers, structures.c.positions, structures.c.cell,
                     structures.c.pbc, structures.c.nsites, structures.c.nelements, structures.c.nperiodic,
                     structures.c.elements, structures.c.formula_reduced, structures.c.formula_hill,
                     structures.c.formula_anonymous, sources.c.path.label("source_path")
                     ).select_from(joined).where(condition)
