"""The event-type catalogue and the properties each type carries.

Each built-in type declares the properties later areas depend on (the sku of a product view for
favourites and restock, the items of a cart for cart abandonment, the score of a survey for NPS):
those are checked. Properties a type does not declare are kept as sent, so trackers can add
context (utm tags, page sections) without waiting for the catalogue; they are only bounded in size.
`custom:<name>` types carry free JSON within the same bounds.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from domain.shared.errors import FieldProblem

CUSTOM_PREFIX = "custom:"
CUSTOM_TYPE = re.compile(r"^custom:[a-z][a-z0-9_]{0,63}$")
MAX_PROPERTIES_BYTES = 16 * 1024  # estimated JSON size of one event's properties
MAX_DEPTH = 8  # nesting of objects and arrays inside properties
MAX_MONEY = 10**15  # minor units; far beyond any order, far inside bigint


class Kind(StrEnum):
    STRING = "string"
    INTEGER = "integer"
    NUMBER = "number"
    BOOLEAN = "boolean"
    OBJECT = "object"
    ITEMS = "items"  # a list of line items: sku, quantity, price


@dataclass(frozen=True)
class Prop:
    """One declared property: its JSON kind, whether it must be present, and simple bounds."""

    kind: Kind
    required: bool = False
    max_length: int = 2048  # strings
    minimum: int | None = None  # integers and numbers
    maximum: int | None = None
    choices: tuple[str, ...] | None = None

    def check(self, value: Any, field: str, problems: list[FieldProblem]) -> None:
        kind = self.kind
        if kind is Kind.STRING:
            if not isinstance(value, str):
                problems.append(FieldProblem(field, "must be a string"))
            elif not value.strip():
                problems.append(FieldProblem(field, "must not be empty"))
            elif len(value) > self.max_length:
                problems.append(FieldProblem(field, f"must be at most {self.max_length} characters"))
            elif self.choices is not None and value not in self.choices:
                problems.append(FieldProblem(field, f"must be one of {', '.join(self.choices)}"))
        elif kind is Kind.INTEGER or kind is Kind.NUMBER:
            number = int | float if kind is Kind.NUMBER else int
            if isinstance(value, bool) or not isinstance(value, number):
                problems.append(FieldProblem(field, f"must be an {kind.value}" if kind is Kind.INTEGER
                                             else "must be a number"))
            elif isinstance(value, float) and not math.isfinite(value):
                problems.append(FieldProblem(field, "must be a finite number"))
            elif self.minimum is not None and value < self.minimum:
                problems.append(FieldProblem(field, f"must be at least {self.minimum}"))
            elif self.maximum is not None and value > self.maximum:
                problems.append(FieldProblem(field, f"must be at most {self.maximum}"))
        elif kind is Kind.BOOLEAN:
            if not isinstance(value, bool):
                problems.append(FieldProblem(field, "must be true or false"))
        elif kind is Kind.OBJECT:
            if not isinstance(value, dict):
                problems.append(FieldProblem(field, "must be an object"))
        elif kind is Kind.ITEMS:
            _check_items(value, field, problems)


def _money(required: bool = False) -> Prop:
    return Prop(Kind.INTEGER, required=required, minimum=0, maximum=MAX_MONEY)


SKU = Prop(Kind.STRING, required=True, max_length=128)
_LINE = {"sku": SKU, "quantity": Prop(Kind.INTEGER, required=True, minimum=0, maximum=1_000_000),
         "price": _money(required=True)}
_CURRENCY = Prop(Kind.STRING, max_length=3)
_TEXT = Prop(Kind.STRING, max_length=256)
_URL = Prop(Kind.STRING, max_length=2048)
MESSAGE_CHANNELS = ("email", "line", "sms", "dm", "phone", "push")


def _check_items(value: Any, field: str, problems: list[FieldProblem]) -> None:
    if not isinstance(value, list):
        problems.append(FieldProblem(field, "must be a list of items (sku, quantity, price)"))
        return
    if len(value) > 500:
        problems.append(FieldProblem(field, "at most 500 items"))
        return
    for i, item in enumerate(value):
        where = f"{field}.{i}"
        if not isinstance(item, dict):
            problems.append(FieldProblem(where, "must be an object with sku, quantity and price"))
            continue
        _check_declared(item, _LINE, where, problems)


# Declared properties of every built-in type. Amounts are integers in the tenant currency's minor
# unit, as everywhere in the API.
CATALOGUE: dict[str, dict[str, Prop]] = {
    "page_viewed": {"url": Prop(Kind.STRING, required=True, max_length=2048), "title": _TEXT,
                    "referrer": _URL},
    "product_viewed": {"sku": SKU, "price": _money(), "category": _TEXT},
    "cart_updated": {"items": Prop(Kind.ITEMS, required=True), "cart_total": _money(),
                     "currency": _CURRENCY},
    "checkout_started": {"items": Prop(Kind.ITEMS), "cart_total": _money(), "currency": _CURRENCY},
    "favorite_added": {"sku": SKU},
    "favorite_removed": {"sku": SKU},
    "email_opened": {"message_id": _TEXT},
    "email_clicked": {"message_id": _TEXT, "url": Prop(Kind.STRING, required=True, max_length=2048)},
    "message_delivered": {"channel": Prop(Kind.STRING, required=True, choices=MESSAGE_CHANNELS),
                          "message_id": _TEXT},
    "ad_impression": {"ad_id": _TEXT, "network": _TEXT, "placement": _TEXT},
    "ad_clicked": {"ad_id": _TEXT, "network": _TEXT, "placement": _TEXT, "url": _URL},
    "survey_answered": {"survey_id": Prop(Kind.STRING, required=True, max_length=128),
                        "score": Prop(Kind.INTEGER, minimum=0, maximum=10),
                        "answers": Prop(Kind.OBJECT)},
    "inquiry_created": {"inquiry_id": _TEXT, "category": _TEXT, "subject": Prop(Kind.STRING, max_length=500)},
    "campaign_entered": {"entry_id": _TEXT},
}

# Types whose touchpoint must name the campaign (an entry without its campaign means nothing).
NEEDS_CAMPAIGN = frozenset({"campaign_entered"})


def is_known_type(value: str) -> bool:
    return value in CATALOGUE or CUSTOM_TYPE.fullmatch(value) is not None


def _check_declared(values: Mapping[str, Any], declared: Mapping[str, Prop], field: str,
                    problems: list[FieldProblem]) -> None:
    for name, prop in declared.items():
        value = values.get(name)
        if value is None:
            if prop.required:
                problems.append(FieldProblem(f"{field}.{name}", "is required"))
            continue
        prop.check(value, f"{field}.{name}", problems)


def _json_size(value: Any, depth: int, field: str, problems: list[FieldProblem]) -> int:
    """An estimate of the JSON size that also refuses what PostgreSQL's jsonb cannot store (NUL
    characters, non-finite numbers) and nesting deeper than MAX_DEPTH."""
    kind = type(value)
    if kind is str:
        if "\x00" in value:
            problems.append(FieldProblem(field, "must not contain NUL characters"))
        return len(value) + 2
    if kind is int or kind is bool or value is None:
        return 8
    if kind is float:
        if not math.isfinite(value):
            problems.append(FieldProblem(field, "must be a finite number"))
        return 12
    if depth >= MAX_DEPTH:
        problems.append(FieldProblem(field, f"nests deeper than {MAX_DEPTH} levels"))
        return 0
    if kind is dict:
        size = 2
        for key, item in value.items():
            if "\x00" in key:
                problems.append(FieldProblem(field, "keys must not contain NUL characters"))
            item_kind = type(item)
            if item_kind is str and "\x00" not in item:  # flat values: no call per value
                size += len(key) + len(item) + 6
            elif item_kind is int or item_kind is bool or item is None:
                size += len(key) + 12
            else:
                size += len(key) + 4 + _json_size(item, depth + 1, f"{field}.{key}", problems)
        return size
    if kind is list:
        return 2 + sum(_json_size(item, depth + 1, f"{field}.{i}", problems) + 1
                       for i, item in enumerate(value))
    problems.append(FieldProblem(field, "must be JSON"))
    return 0


def check_properties(event_type: str, properties: Mapping[str, Any],
                     problems: list[FieldProblem]) -> None:
    """Append every problem with `properties` for `event_type` (a type already known to be valid)."""
    declared = CATALOGUE.get(event_type)
    if declared is not None:
        _check_declared(properties, declared, "properties", problems)
    value = properties if isinstance(properties, dict) else dict(properties)
    if _json_size(value, 0, "properties", problems) > MAX_PROPERTIES_BYTES:
        problems.append(FieldProblem("properties", f"must be at most {MAX_PROPERTIES_BYTES // 1024} KiB"
                                                   " as JSON"))


# -- the quick yes ------------------------------------------------------------------------------
# check_properties builds a field path and walks generic checks for every value; a batch runs it a
# thousand times, nearly always finding nothing. `properties_ok` answers only "nothing to report?"
# with checks compiled once per declared property. It never says yes where check_properties
# would report a problem (tests/unit/events/test_parse_event.py holds it to that); on a no, the
# caller asks check_properties what the problems are.

Check = Callable[[Any], bool]


def _quick_check(prop: Prop) -> Check:
    kind, low, high = prop.kind, prop.minimum, prop.maximum
    if kind is Kind.STRING:
        longest, choices = prop.max_length, prop.choices
        if choices is not None:
            return lambda v: type(v) is str and v in choices and 0 < len(v) <= longest and not v.isspace()
        # strip() is empty exactly when the string is empty or all isspace() characters
        return lambda v: type(v) is str and 0 < len(v) <= longest and not v.isspace()
    if kind is Kind.INTEGER or kind is Kind.NUMBER:
        kinds = (int, float) if kind is Kind.NUMBER else (int,)

        def number(v: Any) -> bool:
            if type(v) not in kinds or (type(v) is float and not math.isfinite(v)):
                return False
            return (low is None or v >= low) and (high is None or v <= high)
        return number
    if kind is Kind.BOOLEAN:
        return lambda v: type(v) is bool
    if kind is Kind.OBJECT:
        return lambda v: type(v) is dict
    line = _quick_declared(_LINE)

    def items(v: Any) -> bool:
        return type(v) is list and len(v) <= 500 and all(type(i) is dict and line(i) for i in v)
    return items


def _quick_declared(declared: Mapping[str, Prop]) -> Check:
    checks = tuple((name, prop.required, _quick_check(prop)) for name, prop in declared.items())

    def ok(values: Any) -> bool:
        for name, required, check in checks:
            value = values.get(name)
            if value is None:
                if required:
                    return False
            elif not check(value):
                return False
        return True
    return ok


_QUICK = {name: _quick_declared(declared) for name, declared in CATALOGUE.items()}


# The integers a JSON decoder gives as int. Some decoders (orjson) turn larger ones into floats,
# others (msgspec) keep them exact: a value outside is not plainly valid, whichever decoded it.
_SMALLEST_INT, _LARGEST_INT = -(2**63), 2**64 - 1


def _quick_size(value: Any, depth: int) -> int | None:
    """_json_size without field paths; None where _json_size would report a problem, and for an
    integer outside 64 bits."""
    kind = type(value)
    if kind is str:
        return None if "\x00" in value else len(value) + 2
    if kind is int:
        return 8 if _SMALLEST_INT <= value <= _LARGEST_INT else None
    if kind is bool or value is None:
        return 8
    if kind is float:
        return 12 if math.isfinite(value) else None
    if depth >= MAX_DEPTH:
        return None
    size: int | None
    if kind is dict:
        size = 2
        for key, item in value.items():
            if "\x00" in key:
                return None
            item_kind = type(item)
            if item_kind is str:
                if "\x00" in item:
                    return None
                size += len(key) + len(item) + 6
            elif (item_kind is bool or item is None
                  or (item_kind is int and _SMALLEST_INT <= item <= _LARGEST_INT)):
                size += len(key) + 12
            else:
                inner = _quick_size(item, depth + 1)
                if inner is None:
                    return None
                size += len(key) + 4 + inner
        return size
    if kind is list:
        size = 2
        for item in value:
            inner = _quick_size(item, depth + 1)
            if inner is None:
                return None
            size += inner + 1
        return size
    return None


def properties_ok(event_type: str, properties: dict[str, Any]) -> bool:
    """True only if check_properties(event_type, properties) would report nothing (a type already
    known to be valid); False means "ask check_properties"."""
    declared = _QUICK.get(event_type)
    if declared is not None and not declared(properties):
        return False
    size = _quick_size(properties, 0)
    return size is not None and size <= MAX_PROPERTIES_BYTES
