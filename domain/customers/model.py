"""Customers, their identities and consents."""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass, field, replace
from datetime import date, datetime
from enum import StrEnum
from typing import Any
from uuid import UUID

import phonenumbers
from email_validator import EmailNotValidError, validate_email

from domain.customers.japan import postal_code, prefecture_code
from domain.shared.errors import FieldProblem, InvalidInput
from domain.shared.text import clean_text

PHONE_DEFAULT_REGION = "JP"  # domestic numbers (090-1234-5678) are Japanese unless they say otherwise
MAX_TAGS = 100


class CustomerStatus(StrEnum):
    ACTIVE = "active"
    MERGED = "merged"
    ERASED = "erased"


class Gender(StrEnum):
    FEMALE = "female"
    MALE = "male"
    OTHER = "other"
    UNDISCLOSED = "undisclosed"


class Channel(StrEnum):
    """Channels a customer can consent to be contacted on."""

    EMAIL = "email"
    LINE = "line"
    SMS = "sms"
    DM = "dm"  # postal direct mail
    PHONE = "phone"
    PUSH = "push"


class ConsentStatus(StrEnum):
    GRANTED = "granted"
    DENIED = "denied"


class IdentityType(StrEnum):
    EMAIL = "email"
    PHONE = "phone"
    LINE_USER_ID = "line_user_id"
    EXTERNAL_ID = "external_id"
    DEVICE_ID = "device_id"


_CUSTOM_IDENTITY = re.compile(r"^custom:[a-z][a-z0-9_]{0,40}$")
_KANA = re.compile(r"^[\u3040-\u309F\u30A0-\u30FF\u30FC\s]+$")
_TAG = re.compile(r"^[^\x00-\x1f,]{1,64}$")


def identity_type(value: str) -> str:
    if value in IdentityType.__members__.values() or _CUSTOM_IDENTITY.fullmatch(value):
        return value
    raise InvalidInput(f"unknown identity type {value!r} (built-in types, or custom:<name>)",
                       field="type")


def normalise_email(value: str, *, field: str = "email") -> str:
    """NFKC, then validated; the whole address is case-folded because matching is case-blind."""
    text = unicodedata.normalize("NFKC", value).strip()
    try:
        checked = validate_email(text, check_deliverability=False)
    except EmailNotValidError as exc:
        raise InvalidInput(f"not a valid email address: {exc}", field=field) from exc
    return str(checked.normalized).casefold()


def normalise_phone(value: str, *, field: str = "phone") -> str:
    """E.164. Japanese domestic forms (03-1234-5678, ０９０…) are accepted."""
    text = unicodedata.normalize("NFKC", value).strip()
    try:
        number = phonenumbers.parse(text, PHONE_DEFAULT_REGION)
    except phonenumbers.NumberParseException as exc:
        raise InvalidInput("not a phone number", field=field) from exc
    if not phonenumbers.is_valid_number(number):
        raise InvalidInput("not a valid phone number", field=field)
    return str(phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164))


def normalise_identity(kind: str, value: str, *, field: str = "value") -> str:
    if kind == IdentityType.EMAIL:
        return normalise_email(value, field=field)
    if kind == IdentityType.PHONE:
        return normalise_phone(value, field=field)
    return clean_text(value, field=field, max_length=256)


def normalise_kana(value: str, *, field: str) -> str:
    """Furigana: NFKC folds half-width katakana; hiragana, katakana, ー and spaces only."""
    text = clean_text(value, field=field, max_length=100)
    if not _KANA.fullmatch(text):
        raise InvalidInput("must be written in kana (hiragana or katakana)", field=field)
    return text


def normalise_tags(values: list[str], *, field: str = "tags") -> tuple[str, ...]:
    tags = [unicodedata.normalize("NFKC", v).strip() for v in values]
    bad = [t for t in tags if not _TAG.fullmatch(t)]
    if bad:
        raise InvalidInput("tags are 1-64 characters without commas or control characters", field=field)
    if len(set(tags)) > MAX_TAGS:
        raise InvalidInput(f"at most {MAX_TAGS} tags", field=field)
    return tuple(sorted(set(tags)))


def validate_birth_date(value: date, today: date, *, field: str = "birth_date") -> date:
    if value > today or value.year < 1900:
        raise InvalidInput("birth_date must be between 1900-01-01 and today", field=field)
    return value


@dataclass(frozen=True)
class Address:
    postal_code: str | None = None
    prefecture: str | None = None  # JIS X 0401 code
    city: str | None = None
    line1: str | None = None
    line2: str | None = None

    @classmethod
    def parse(cls, raw: dict[str, Any]) -> Address:
        problems: list[FieldProblem] = []

        def attempt(fn: Any, *args: Any, **kwargs: Any) -> Any:
            try:
                return fn(*args, **kwargs)
            except InvalidInput as exc:
                problems.extend(exc.problems)
                return None

        def text(key: str) -> str | None:
            value = raw.get(key)
            return attempt(clean_text, value, field=f"address.{key}", max_length=200) if value else None

        address = cls(
            postal_code=attempt(postal_code, raw["postal_code"]) if raw.get("postal_code") else None,
            prefecture=attempt(prefecture_code, raw["prefecture"]) if raw.get("prefecture") else None,
            city=text("city"), line1=text("line1"), line2=text("line2"))
        if problems:
            raise InvalidInput("the address has invalid fields", problems=problems)
        return address


@dataclass(frozen=True)
class Acquisition:
    """The first touchpoint the customer came through (before-purchase stage, usually)."""

    channel: str | None = None
    stage: str | None = None  # pre_purchase | purchase | post_purchase
    campaign: str | None = None
    occurred_at: datetime | None = None


@dataclass(frozen=True)
class Customer:
    id: UUID
    created_at: datetime
    updated_at: datetime
    external_id: str | None = None
    email: str | None = None
    phone: str | None = None
    line_user_id: str | None = None
    family_name: str | None = None
    given_name: str | None = None
    family_name_kana: str | None = None
    given_name_kana: str | None = None
    birth_date: date | None = None
    gender: Gender | None = None
    address: Address = field(default_factory=Address)
    tags: tuple[str, ...] = ()
    attributes: dict[str, Any] = field(default_factory=dict)
    acquisition: Acquisition | None = None
    status: CustomerStatus = CustomerStatus.ACTIVE
    merged_into: UUID | None = None
    erased_at: datetime | None = None
    version: int = 1

    def identities(self) -> list[tuple[str, str]]:
        """The identities its profile fields imply (kept unique in the identities table)."""
        pairs = [(IdentityType.EXTERNAL_ID, self.external_id), (IdentityType.EMAIL, self.email),
                 (IdentityType.PHONE, self.phone), (IdentityType.LINE_USER_ID, self.line_user_id)]
        return [(str(kind), value) for kind, value in pairs if value]

    def bump(self, now: datetime, **changes: Any) -> Customer:
        return replace(self, **changes, updated_at=now, version=self.version + 1)


@dataclass(frozen=True)
class Identity:
    type: str
    value: str
    customer_id: UUID
    created_at: datetime


@dataclass(frozen=True)
class Consent:
    customer_id: UUID
    channel: Channel
    status: ConsentStatus
    source: str | None
    occurred_at: datetime
    recorded_at: datetime


@dataclass(frozen=True)
class ConsentDecision:
    """One recorded decision (the history keeps them all)."""

    id: UUID
    customer_id: UUID
    channel: Channel
    status: ConsentStatus
    source: str | None
    actor: str
    occurred_at: datetime
    recorded_at: datetime


def may_contact(consents: list[Consent] | dict[Channel, Consent], channel: Channel | str) -> bool:
    """THE rule every sender obeys: message a customer on a channel only with a granted consent
    for exactly that channel. No record means no."""
    wanted = Channel(channel)
    items = consents.values() if isinstance(consents, dict) else consents
    return any(c.channel == wanted and c.status == ConsentStatus.GRANTED for c in items)


@dataclass(frozen=True)
class CustomerRef:
    """How orders, events and entries name a customer: exactly one of id or an identity."""

    id: UUID | None = None
    identity_type: str | None = None
    identity_value: str | None = None

    @classmethod
    def parse(cls, raw: dict[str, Any], *, field: str = "customer") -> CustomerRef:
        keys = [k for k in ("id", "external_id", "email", "phone", "line_user_id") if raw.get(k)]
        if len(keys) != 1:
            raise InvalidInput("name the customer with exactly one of id, external_id, email, phone,"
                               " line_user_id", field=field)
        key = keys[0]
        if key == "id":
            try:
                return cls(id=UUID(str(raw["id"])))
            except ValueError as exc:
                raise InvalidInput("not a customer id", field=f"{field}.id") from exc
        return cls(identity_type=key,
                   identity_value=normalise_identity(key, str(raw[key]), field=f"{field}.{key}"))
