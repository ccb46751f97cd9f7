"""A tenant is one brand; its data lives in its own PostgreSQL schema `t_<slug>`."""

from __future__ import annotations

import re
from dataclasses import dataclass, replace
from datetime import datetime
from enum import StrEnum
from uuid import UUID
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError, available_timezones

from domain.shared.errors import InvalidInput
from domain.shared.text import clean_text

SLUG_PATTERN = re.compile(r"^[a-z][a-z0-9_]{1,40}$")
DEFAULT_TIMEZONE = "Asia/Tokyo"
DEFAULT_CURRENCY = "JPY"

# ISO 4217 active codes (2024 list), with the number of minor units each uses: money in Kizuna is
# an integer of minor units, so the exponent matters (JPY 0, USD 2, KWD 3).
_CURRENCY_EXPONENTS: dict[str, int] = {
    **dict.fromkeys(
        "AED AFN ALL AMD ANG AOA ARS AUD AWG AZN BAM BBD BDT BGN BMD BND BOB BRL BSD BTN BWP BYN BZD "
        "CAD CDF CHF CNY COP CRC CUP CVE CZK DKK DOP DZD EGP ERN ETB EUR FJD FKP GBP GEL GHS GIP GMD "
        "GTQ GYD HKD HNL HTG HUF IDR ILS INR IRR JMD KES KGS KHR KPW KYD KZT LAK LBP LKR LRD LSL MAD "
        "MDL MGA MKD MMK MNT MOP MRU MUR MVR MWK MXN MYR MZN NAD NGN NIO NOK NPR NZD PAB PEN PGK PHP "
        "PKR PLN QAR RON RSD RUB SAR SBD SCR SDG SEK SGD SHP SLE SOS SRD SSP STN SVC SYP SZL THB TJS "
        "TMT TOP TRY TTD TWD TZS UAH USD UYU UZS VES WST XCD YER ZAR ZMW ZWG".split(), 2),
    **dict.fromkeys("BIF CLP DJF GNF ISK JPY KMF KRW PYG RWF UGX UYI VND VUV XAF XOF XPF".split(), 0),
    **dict.fromkeys("BHD IQD JOD KWD LYD OMR TND".split(), 3),
}


class TenantStatus(StrEnum):
    ACTIVE = "active"
    SUSPENDED = "suspended"


def validate_slug(slug: str) -> str:
    if not SLUG_PATTERN.fullmatch(slug):
        raise InvalidInput(
            "slug must start with a lower-case letter and hold 2-41 characters of a-z, 0-9 and _",
            field="slug")
    return slug


def validate_timezone(name: str) -> str:
    # ZoneInfo also accepts file paths and odd aliases; the IANA list is the contract.
    if name not in _known_timezones():
        raise InvalidInput(f"unknown IANA timezone {name!r}", field="timezone")
    try:
        ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError) as exc:  # pragma: no cover - list and db agree
        raise InvalidInput(f"unknown IANA timezone {name!r}", field="timezone") from exc
    return name


def validate_currency(code: str) -> str:
    if code not in _CURRENCY_EXPONENTS:
        raise InvalidInput(f"{code!r} is not an ISO 4217 currency code", field="currency")
    return code


def currency_exponent(code: str) -> int:
    return _CURRENCY_EXPONENTS[code]


_TIMEZONES: frozenset[str] | None = None


def _known_timezones() -> frozenset[str]:
    global _TIMEZONES
    if _TIMEZONES is None:
        # The system zone database also lists files that are not IANA zone names: `localtime` (the
        # server's own zone), `posixrules`, `Factory`, and the posix/ and right/ trees.
        _TIMEZONES = frozenset(
            name for name in available_timezones()
            if name not in ("localtime", "posixrules", "Factory")
            and not name.startswith(("posix/", "right/")))
    return _TIMEZONES


def schema_for(slug: str) -> str:
    return "t_" + validate_slug(slug)


@dataclass(frozen=True)
class Tenant:
    id: UUID
    slug: str
    name: str
    timezone: str
    currency: str
    status: TenantStatus
    schema: str
    created_at: datetime
    updated_at: datetime
    version: int = 1

    @property
    def is_active(self) -> bool:
        return self.status is TenantStatus.ACTIVE

    def changed(self, *, name: str | None, timezone: str | None, status: TenantStatus | None,
                now: datetime) -> Tenant:
        return replace(
            self,
            name=clean_text(name, field="name", max_length=200) if name is not None else self.name,
            timezone=validate_timezone(timezone) if timezone is not None else self.timezone,
            status=status if status is not None else self.status,
            updated_at=now,
            version=self.version + 1,
        )
