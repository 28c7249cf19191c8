"""The OPTIMADE filter language, translated to SQL over the store.

The ``optimade`` package parses (its Lark grammar, v1.2); this module turns the tree into one
SQLAlchemy expression over ``calculations`` joined to ``structures``. Every value a user writes
becomes a bound parameter, never SQL text. OPTIMADE's rule that a comparison with an unknown
(NULL) value is false, and stays false under NOT, is kept by guarding each comparison.

Properties: the OPTIMADE structure fields below, ``_esml_*`` columns, and ``_esml_<name>`` for any
scalar in a calculation's ``properties`` (QM9's ``_esml_homo``, ``_esml_gap``, …).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import cache

import sqlalchemy as sa
from lark import Token, Transformer, v_args

from esml.data.schema import calculations, dataset_members, datasets, sources, structure_elements, structures
from esml.errors import EsmlError


class FilterError(EsmlError):
    """A filter that does not parse, names an unknown property, or compares unlike types."""


@dataclass(frozen=True)
class Property:
    """A filterable property: its SQL expression and its OPTIMADE type."""

    column: sa.ColumnElement
    type: str  # "string", "integer", "float", "timestamp"


PROPERTIES = {
    "id": Property(sa.cast(calculations.c.id, sa.String), "string"),  # OPTIMADE ids are strings
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
}
# Presence of an array result: `_esml_forces IS KNOWN`.
ARRAY_PROPERTIES = {f"_esml_{name}": calculations.c[name] for name in ("forces", "stress", "dipole", "charges")}
LIST_PROPERTIES = ("elements", "_esml_dataset")
OPERATORS = {"=": "__eq__", "!=": "__ne__", "<": "__lt__", "<=": "__le__", ">": "__gt__", ">=": "__ge__"}
REVERSED = {"<": ">", "<=": ">=", ">": "<", ">=": "<=", "=": "=", "!=": "!="}
PROVIDER_PREFIX = "esml"


@cache
def _parser():
    from optimade.filterparser import LarkParser

    return LarkParser(version=(1, 2, 0))


def parse_filter(text: str) -> sa.ColumnElement[bool]:
    """The SQL condition for an OPTIMADE filter; an empty filter matches everything."""
    from optimade.exceptions import BadRequest

    if not text.strip():
        return sa.true()
    try:
        tree = _parser().lark.parse(text)
    except Exception as error:  # lark raises several types; all mean "not in the grammar"
        raise FilterError(f"filter does not parse: {_parse_problem(error)}; see the OPTIMADE filter grammar") from None
    try:
        condition = FilterToSQL().transform(tree)
    except BadRequest as error:
        raise FilterError(str(error.detail)) from None
    except Exception as error:
        original = getattr(error, "orig_exc", error)  # lark wraps what a rule raises
        if isinstance(original, FilterError):
            raise original from None
        raise
    return sa.true() if condition is None else condition


def known_property_names() -> list[str]:
    return sorted([*PROPERTIES, *ARRAY_PROPERTIES, *LIST_PROPERTIES])


def _parse_problem(error: Exception) -> str:
    from lark.exceptions import UnexpectedCharacters, UnexpectedEOF, UnexpectedToken

    if isinstance(error, UnexpectedEOF) or (isinstance(error, UnexpectedToken) and error.token.type == "$END"):
        return "it ends too early"
    if isinstance(error, UnexpectedToken):
        return f"unexpected {str(error.token)!r} at column {error.column}"
    if isinstance(error, UnexpectedCharacters):
        return f"unexpected character {error.char!r} at column {error.column}"
    return type(error).__name__


class FilterToSQL(Transformer):
    """Lark tree (OPTIMADE grammar) -> SQLAlchemy boolean expression."""

    # --- values ---------------------------------------------------------------------------
    def filter(self, children):
        return children[0] if children else None

    @v_args(inline=True)
    def string(self, token):
        return _unescape(str(token))

    @v_args(inline=True)
    def number(self, token):
        return int(token) if token.type == "SIGNED_INT" else float(token)

    @v_args(inline=True)
    def signed_int(self, token):
        return int(token)

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
            raise FilterError(f"nested property {'.'.join(map(str, children))!r} is not supported")
        return PropertyName(str(children[0]))

    def value_list(self, children):
        if any(isinstance(child, Token) and child.type == "OPERATOR" for child in children):
            raise FilterError("operators inside HAS ALL/ANY/ONLY lists are not supported")
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
        raise FilterError("zipped HAS (a:b HAS ...) is not supported")

    # --- builders -------------------------------------------------------------------------
    def _value(self, name: PropertyName, operator: str, value) -> sa.ColumnElement[bool]:
        if isinstance(value, PropertyName):
            raise FilterError("comparing two properties is not supported")
        if name.text in LIST_PROPERTIES:
            raise FilterError(f"{name.text!r} is a list: use HAS, HAS ALL, HAS ANY, HAS ONLY or LENGTH")
        prop = _scalar_property(name.text, value)
        if prop is None:
            return sa.false()  # another provider's property: unknown here, so the comparison is false
        _check_type(name.text, prop, value)
        return sa.and_(prop.column.is_not(None), getattr(prop.column, OPERATORS[operator])(value))

    def _known(self, name: PropertyName, known: bool) -> sa.ColumnElement[bool]:
        if name.text in ARRAY_PROPERTIES:
            column = ARRAY_PROPERTIES[name.text]
        elif name.text in LIST_PROPERTIES:
            return sa.true() if known else sa.false()
        else:
            prop = _scalar_property(name.text, None)
            if prop is None:
                return sa.false() if known else sa.true()
            column = prop.column
        return column.is_not(None) if known else column.is_(None)

    def _fuzzy(self, name: PropertyName, operator: str, value) -> sa.ColumnElement[bool]:
        prop = _scalar_property(name.text, value)
        if prop is None:
            return sa.false()
        if prop.type != "string" or not isinstance(value, str):
            raise FilterError(f"{operator} needs a string property and a string value ({name.text!r})")
        pattern = _like_escape(value)
        pattern = {"CONTAINS": f"%{pattern}%", "STARTS": f"{pattern}%", "ENDS": f"%{pattern}"}[operator]
        return sa.and_(prop.column.is_not(None), prop.column.like(pattern, escape="\\"))

    def _has(self, name: PropertyName, kind: str, argument) -> sa.ColumnElement[bool]:
        if name.text not in LIST_PROPERTIES:
            raise FilterError(f"HAS needs a list property ({', '.join(LIST_PROPERTIES)}), not {name.text!r}")
        if kind == "OP":
            operator, value = argument
            if operator != "=":
                raise FilterError("HAS with an operator other than = is not supported")
            return _list_contains(name.text, value)
        values = argument
        if kind == "ALL":
            return sa.and_(*(_list_contains(name.text, value) for value in values))
        if kind == "ANY":
            return sa.or_(*(_list_contains(name.text, value) for value in values))
        return _list_only(name.text, values)

    def _length(self, name: PropertyName, operator: str, value: int) -> sa.ColumnElement[bool]:
        if name.text != "elements":
            raise FilterError(f"LENGTH is supported for 'elements' only, not {name.text!r}")
        return getattr(structures.c.nelements, OPERATORS[operator])(value)


@dataclass(frozen=True)
class PropertyName:
    text: str


def _scalar_property(name: str, value) -> Property | None:
    """The property, a JSON ``properties`` entry for other ``_esml_`` names, or None for another
    provider's prefix (OPTIMADE: unknown, not an error)."""
    if name in PROPERTIES:
        return PROPERTIES[name]
    if name in ARRAY_PROPERTIES:
        raise FilterError(f"{name!r} is an array: only '{name} IS KNOWN' or 'IS UNKNOWN' can filter on it")
    prefix = f"_{PROVIDER_PREFIX}_"
    if name.startswith(prefix):
        entry = calculations.c.properties[name[len(prefix):]]
        if isinstance(value, str):
            return Property(entry.as_string(), "string")
        return Property(entry.as_float(), "float")
    if name.startswith("_"):
        return None
    raise FilterError(f"unknown property {name!r}; filterable: {', '.join(known_property_names())}, "
                      f"or _esml_<name> for a stored scalar such as _esml_homo")


def _check_type(name: str, prop: Property, value) -> None:
    numeric = prop.type in ("integer", "float")
    if numeric and not isinstance(value, (int, float)):
        raise FilterError(f"{name!r} is a number: compare it with a number, not {value!r}")
    if prop.type in ("string", "timestamp") and not isinstance(value, str):
        raise FilterError(f"{name!r} is a {prop.type}: compare it with a quoted string, not {value!r}")


def _list_contains(name: str, value) -> sa.ColumnElement[bool]:
    if not isinstance(value, str):
        raise FilterError(f"{name!r} holds strings: write the value in double quotes")
    if name == "elements":
        return sa.exists().where(structure_elements.c.structure_id == structures.c.id,
                                 structure_elements.c.element == value)
    return sa.exists().where(dataset_members.c.calculation_id == calculations.c.id,
                             dataset_members.c.dataset_id == datasets.c.id, datasets.c.name == value)


def _list_only(name: str, values: list) -> sa.ColumnElement[bool]:
    if name != "elements":
        raise FilterError(f"HAS ONLY is supported for 'elements' only, not {name!r}")
    if not all(isinstance(value, str) for value in values):
        raise FilterError("'elements' holds strings: write the values in double quotes")
    return ~sa.exists().where(structure_elements.c.structure_id == structures.c.id,
                              structure_elements.c.element.not_in(values))


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
                     structures.c.pbc, structures.c.nsites, structures.c.elements, structures.c.formula_reduced,
                     sources.c.path.label("source_path")).select_from(joined).where(condition)
