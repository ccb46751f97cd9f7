"""Custom attributes: free JSON, unless the tenant declares a definition, which then types it."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date, datetime
from enum import StrEnum
from typing import Any

from domain.shared.errors import FieldProblem, InvalidInput

NAME = re.compile(r"^[a-z][a-z0-9_]{0,63}$")
MAX_ATTRIBUTES = 200


class AttributeType(StrEnum):
    STRING = "string"
    INTEGER = "integer"
    NUMBER = "number"
    BOOLEAN = "boolean"
    DATE = "date"
    DATETIME = "datetime"
    ENUM = "enum"
    STRING_LIST = "string_list"


@dataclass(frozen=True)
class AttributeDefinition:
    name: str
    type: AttributeType
    enum_values: tuple[str, ...] | None = None
    required: bool = False
    description: str | None = None

    def check(self, value: Any) -> str | None:
        """None when `value` fits, else why not. JSON null always fits (clears the value)."""
        if value is None:
            return None
        t = self.type
        ok = {
            AttributeType.STRING: lambda v: isinstance(v, str) and len(v) <= 2000,
            AttributeType.INTEGER: lambda v: isinstance(v, int) and not isinstance(v, bool),
            AttributeType.NUMBER: lambda v: isinstance(v, int | float) and not isinstance(v, bool),
            AttributeType.BOOLEAN: lambda v: isinstance(v, bool),
            AttributeType.DATE: lambda v: isinstance(v, str) and _parses(date.fromisoformat, v),
            AttributeType.DATETIME: lambda v: isinstance(v, str) and _parses(_aware, v),
            AttributeType.ENUM: lambda v: isinstance(v, str) and v in (self.enum_values or ()),
            AttributeType.STRING_LIST: lambda v: isinstance(v, list) and all(isinstance(i, str) for i in v),
        }[t](value)
        if ok:
            return None
        if t is AttributeType.ENUM:
            return f"must be one of {', '.join(self.enum_values or ())}"
        return f"must be a {t.value}" + (" (ISO 8601 with offset)" if t is AttributeType.DATETIME else "")


def _parses(fn: Any, value: str) -> bool:
    try:
        fn(value)
    except ValueError:
        return False
    return True


def _aware(value: str) -> datetime:
    parsed = datetime.fromisoformat(value)
    if parsed.tzinfo is None:
        raise ValueError("naive")
    return parsed


def validate_definition(definition: AttributeDefinition) -> AttributeDefinition:
    if not NAME.fullmatch(definition.name):
        raise InvalidInput("attribute names are lower-case snake_case, 1-64 characters", field="name")
    if definition.type is AttributeType.ENUM and not definition.enum_values:
        raise InvalidInput("an enum attribute lists its enum_values", field="enum_values")
    return definition


def validate_attributes(values: dict[str, Any], definitions: dict[str, AttributeDefinition], *,
                        creating: bool) -> dict[str, Any]:
    problems: list[FieldProblem] = []
    if len(values) > MAX_ATTRIBUTES:
        problems.append(FieldProblem("attributes", f"at most {MAX_ATTRIBUTES} attributes"))
    for name, value in values.items():
        if not NAME.fullmatch(name):
            problems.append(FieldProblem(f"attributes.{name}", "names are lower-case snake_case"))
            continue
        definition = definitions.get(name)
        if definition is not None and (why := definition.check(value)):
            problems.append(FieldProblem(f"attributes.{name}", why))
    if creating:
        for name, definition in definitions.items():
            if definition.required and values.get(name) is None:
                problems.append(FieldProblem(f"attributes.{name}", "is required"))
    if problems:
        raise InvalidInput("attributes do not match their definitions", problems=problems)
    return values
