"""Turning caller-supplied profile fields into normalised domain values, every problem at once."""

from __future__ import annotations

from collections.abc import Callable
from datetime import date, datetime
from typing import Any

from domain.customers.attributes import AttributeDefinition, validate_attributes
from domain.customers.model import (
    Acquisition,
    Address,
    Gender,
    normalise_email,
    normalise_kana,
    normalise_phone,
    normalise_tags,
    validate_birth_date,
)
from domain.shared.errors import FieldProblem, InvalidInput
from domain.shared.text import clean_text

PROFILE_FIELDS = ("external_id", "email", "phone", "line_user_id", "family_name", "given_name",
                  "family_name_kana", "given_name_kana", "birth_date", "gender", "address", "tags",
                  "attributes", "acquisition")
STAGES = ("pre_purchase", "purchase", "post_purchase")


def _acquisition(raw: dict[str, Any]) -> Acquisition:
    stage = raw.get("stage")
    if stage is not None and stage not in STAGES:
        raise InvalidInput(f"stage is one of {', '.join(STAGES)}", field="acquisition.stage")
    occurred = raw.get("occurred_at")
    if isinstance(occurred, datetime) and occurred.tzinfo is None:
        raise InvalidInput("occurred_at needs a UTC offset", field="acquisition.occurred_at")

    def text(key: str) -> str | None:
        value = raw.get(key)
        return clean_text(value, field=f"acquisition.{key}", max_length=200) if value else None

    return Acquisition(channel=text("channel"), stage=stage, campaign=text("campaign"),
                       occurred_at=occurred)


def normalise_profile(raw: dict[str, Any], *, today: date,
                      definitions: dict[str, AttributeDefinition], creating: bool) -> dict[str, Any]:
    """Only the keys present in `raw` come back (PATCH semantics); None clears a field."""
    rules: dict[str, Callable[[Any], Any]] = {
        "external_id": lambda v: clean_text(v, field="external_id", max_length=256),
        "email": normalise_email,
        "phone": normalise_phone,
        "line_user_id": lambda v: clean_text(v, field="line_user_id", max_length=64),
        "family_name": lambda v: clean_text(v, field="family_name", max_length=100),
        "given_name": lambda v: clean_text(v, field="given_name", max_length=100),
        "family_name_kana": lambda v: normalise_kana(v, field="family_name_kana"),
        "given_name_kana": lambda v: normalise_kana(v, field="given_name_kana"),
        "birth_date": lambda v: validate_birth_date(v, today),
        "gender": Gender,
        "address": Address.parse,
        "tags": normalise_tags,
        "attributes": lambda v: validate_attributes(v, definitions, creating=creating),
        "acquisition": _acquisition,
    }
    problems: list[FieldProblem] = []
    values: dict[str, Any] = {}
    for key, value in raw.items():
        if key not in rules:
            continue
        if value is None:
            values[key] = {"tags": (), "attributes": {}, "address": Address()}.get(key)
            continue
        try:
            values[key] = rules[key](value)
        except InvalidInput as exc:
            problems.extend(exc.problems or [FieldProblem(key, exc.detail)])
        except ValueError as exc:
            problems.append(FieldProblem(key, str(exc)))
    if creating and "attributes" not in raw:
        try:
            validate_attributes({}, definitions, creating=True)
        except InvalidInput as exc:
            problems.extend(exc.problems)
    if problems:
        raise InvalidInput("the customer has invalid fields", problems=problems)
    return values
