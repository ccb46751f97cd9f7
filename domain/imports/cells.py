"""Reading typed values out of CSV cells, the way Japanese spreadsheets write them.

Every cell is NFKC-normalised first, so full-width digits (１２３), letters and half-width kana
read like their ordinary forms.
"""

from __future__ import annotations

import re
import unicodedata
from datetime import date, datetime, time
from zoneinfo import ZoneInfo

from domain.customers.attributes import AttributeDefinition, AttributeType
from domain.shared.errors import InvalidInput
from domain.shared.text import clean_text

LIST_SEPARATORS = re.compile(r"[|;]")
_DATE = re.compile(r"^(\d{4})[-/.年](\d{1,2})[-/.月](\d{1,2})日?$")
_COMPACT_DATE = re.compile(r"^(\d{4})(\d{2})(\d{2})$")
_DATETIME = re.compile(r"^(\d{4})[-/](\d{1,2})[-/](\d{1,2})[ T](\d{1,2}):(\d{2})(?::(\d{2})(\.\d+)?)?$")
_INTEGER = re.compile(r"^[+-]?\d+$")
_TRUE = {"true", "t", "yes", "y", "1", "はい", "有", "あり", "○", "〇"}
_FALSE = {"false", "f", "no", "n", "0", "いいえ", "無", "なし", "×"}


def nfkc(value: str) -> str:
    return unicodedata.normalize("NFKC", value).strip()


def parse_date(value: str, *, field: str) -> date:
    """2024-01-31, 2024/1/31, 2024.01.31, 20240131 or 2024年1月31日."""
    text = nfkc(value)
    found = _DATE.fullmatch(text) or _COMPACT_DATE.fullmatch(text)
    if found is None:
        raise InvalidInput("not a date (YYYY-MM-DD, YYYY/MM/DD or YYYY年M月D日)", field=field)
    try:
        return date(int(found.group(1)), int(found.group(2)), int(found.group(3)))
    except ValueError as exc:
        raise InvalidInput(f"not a real date: {exc}", field=field) from exc


def parse_datetime(value: str, *, field: str, timezone: str) -> datetime:
    """ISO 8601 with an offset; without one (`2024/01/31 10:30`, or a bare date meaning midnight)
    the time is the tenant's local time: Japanese exports rarely write offsets."""
    text = nfkc(value)
    zone = ZoneInfo(timezone)
    try:
        parsed = datetime.fromisoformat(text)
    except ValueError:
        found = _DATETIME.fullmatch(text)
        if found is not None:
            y, mo, d, h, mi, s = (int(found.group(i) or 0) for i in range(1, 7))
            try:
                return datetime(y, mo, d, h, mi, s, tzinfo=zone)
            except ValueError as exc:
                raise InvalidInput(f"not a real date and time: {exc}", field=field) from exc
        try:
            return datetime.combine(parse_date(text, field=field), time(0), tzinfo=zone)
        except InvalidInput:
            raise InvalidInput("not a date and time (ISO 8601, or YYYY/MM/DD HH:MM[:SS] in the"
                               " tenant's time zone)", field=field) from None
    return parsed if parsed.tzinfo is not None else parsed.replace(tzinfo=zone)


def parse_int(value: str, *, field: str, minimum: int | None = 0, money: bool = False) -> int:
    """An integer; thousands separators allowed; money may be written ¥1,200 or 1,200円."""
    text = nfkc(value).replace(",", "").replace(" ", "")
    if money:
        text = text.removeprefix("¥").removeprefix("\\").removesuffix("円")
    if not _INTEGER.fullmatch(text):
        what = "an integer amount in the currency's minor unit" if money else "a whole number"
        raise InvalidInput(f"must be {what}", field=field)
    number = int(text)
    if minimum is not None and number < minimum:
        raise InvalidInput(f"must be at least {minimum}", field=field)
    if abs(number) >= 2**63:
        raise InvalidInput("is too large", field=field)
    return number


def parse_bool(value: str, *, field: str) -> bool:
    text = nfkc(value).lower()
    if text in _TRUE:
        return True
    if text in _FALSE:
        return False
    raise InvalidInput("must be true or false (also yes/no, 1/0, はい/いいえ)", field=field)


def split_list(value: str) -> list[str]:
    """Lists (tags, string-list attributes) are separated by `|` or `;`."""
    return [part.strip() for part in LIST_SEPARATORS.split(value) if part.strip()]


def attribute_value(name: str, value: str, definition: AttributeDefinition | None) -> object:
    """A cell as the JSON value its definition expects; undeclared attributes are strings."""
    field = f"attributes.{name}"
    if definition is None or definition.type in (AttributeType.STRING, AttributeType.ENUM):
        # PostgreSQL's jsonb cannot hold NUL: text is cleaned as every other text field is
        return clean_text(value, field=field, max_length=2000)
    kind = definition.type
    if kind is AttributeType.INTEGER:
        return parse_int(value, field=field, minimum=None)
    if kind is AttributeType.NUMBER:
        text = nfkc(value).replace(",", "")
        try:
            number = float(text)
        except ValueError as exc:
            raise InvalidInput("must be a number", field=field) from exc
        return int(number) if number.is_integer() and "." not in text else number
    if kind is AttributeType.BOOLEAN:
        return parse_bool(value, field=field)
    if kind is AttributeType.STRING_LIST:
        return [clean_text(v, field=field, max_length=2000) for v in split_list(value)]
    if kind is AttributeType.DATE:
        return parse_date(value, field=field).isoformat()
    if kind is AttributeType.DATETIME:
        try:
            parsed = datetime.fromisoformat(nfkc(value))
        except ValueError as exc:
            raise InvalidInput("must be a datetime (ISO 8601 with offset)", field=field) from exc
        return parsed.isoformat()
    raise AssertionError(f"unhandled attribute type {kind}")  # pragma: no cover
