from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from uuid import uuid4

import pytest
from hypothesis import given
from hypothesis import strategies as st

from domain.customers.attributes import AttributeDefinition, AttributeType, validate_attributes
from domain.customers.japan import PREFECTURES, postal_code, prefecture_code
from domain.customers.model import (
    Channel,
    Consent,
    ConsentStatus,
    CustomerRef,
    may_contact,
    normalise_email,
    normalise_kana,
    normalise_phone,
)
from domain.customers.profile import normalise_profile
from domain.shared.errors import InvalidInput

NOW = datetime(2026, 11, 22, tzinfo=UTC)


def _consent(channel, status, minutes=0):
    return Consent(customer_id=uuid4(), channel=channel, status=status, source=None,
                   occurred_at=NOW - timedelta(minutes=minutes), recorded_at=NOW)


@given(st.lists(st.tuples(st.sampled_from(list(Channel)), st.sampled_from(list(ConsentStatus))), max_size=8),
       st.sampled_from(list(Channel)))
def test_may_contact_only_with_a_granted_consent_for_that_exact_channel(decisions, channel):
    consents = [_consent(c, s) for c, s in decisions]
    expected = any(c == channel and s is ConsentStatus.GRANTED for c, s in decisions)
    assert may_contact(consents, channel) is expected


def test_no_consent_record_means_no():
    assert may_contact([], Channel.EMAIL) is False
    assert may_contact([_consent(Channel.LINE, ConsentStatus.GRANTED)], "email") is False


@pytest.mark.parametrize("code", list(PREFECTURES))
def test_every_prefecture_resolves_by_code_name_and_romaji(code):
    name, romaji = PREFECTURES[code]
    assert prefecture_code(code) == prefecture_code(name) == prefecture_code(romaji.upper()) == code
    assert prefecture_code(str(int(code))) == code


@given(st.integers(0, 9_999_999))
def test_postal_codes_accept_both_forms_and_full_width(n):
    digits = f"{n:07d}"
    expected = f"{digits[:3]}-{digits[3:]}"
    full = digits.translate(str.maketrans("0123456789", "０１２３４５６７８９"))
    assert postal_code(digits) == postal_code(expected) == postal_code("〒" + full) == expected


@pytest.mark.parametrize("raw,e164", [("090-1234-5678", "+819012345678"), ("(03) 1234-5678", "+81312345678"),
                                      ("+1 650-253-0000", "+16502530000"), ("０９０１２３４５６７８", "+819012345678")])
def test_phones_become_e164(raw, e164):
    assert normalise_phone(raw) == e164


@pytest.mark.parametrize("bad", ["12", "abc", "090-1234-567890123", ""])
def test_bad_phones(bad):
    with pytest.raises(InvalidInput):
        normalise_phone(bad)


def test_email_is_casefolded_and_full_width_folded():
    assert normalise_email("Ｈａｎａｋｏ@Example.JP") == "hanako@example.jp"
    with pytest.raises(InvalidInput):
        normalise_email("no-at-sign")


def test_kana_accepts_hiragana_katakana_and_half_width():
    assert normalise_kana("ﾔﾏﾀﾞ ﾊﾅｺ", field="k") == "ヤマダ ハナコ"
    assert normalise_kana("やまだ", field="k") == "やまだ"
    with pytest.raises(InvalidInput):
        normalise_kana("山田", field="k")


def test_customer_ref_needs_exactly_one_key():
    assert CustomerRef.parse({"email": "A@b.jp"}).identity_value == "a@b.jp"
    for raw in ({}, {"email": "a@b.jp", "phone": "0312345678"}, {"id": "not-a-uuid"}):
        with pytest.raises(InvalidInput):
            CustomerRef.parse(raw)


def test_attribute_definitions_type_values_and_required():
    defs = {"rank": AttributeDefinition("rank", AttributeType.ENUM, ("gold", "silver")),
            "joined": AttributeDefinition("joined", AttributeType.DATETIME),
            "points": AttributeDefinition("points", AttributeType.INTEGER, required=True)}
    assert validate_attributes({"rank": "gold", "points": 3, "free": {"x": 1}}, defs, creating=True)
    with pytest.raises(InvalidInput) as info:
        validate_attributes({"rank": "bronze", "joined": "2026-01-01T00:00:00", "points": True}, defs,
                            creating=True)
    assert sorted(p.field for p in info.value.problems) == ["attributes.joined", "attributes.points",
                                                            "attributes.rank"]
    with pytest.raises(InvalidInput):
        validate_attributes({}, defs, creating=True)  # points is required
    assert validate_attributes({}, defs, creating=False) == {}


def test_profile_reports_every_problem_at_once():
    with pytest.raises(InvalidInput) as info:
        normalise_profile({"email": "x", "phone": "1", "birth_date": date(2100, 1, 1),
                           "address": {"postal_code": "1", "prefecture": "Nowhere"}},
                          today=date(2026, 11, 22), definitions={}, creating=True)
    assert sorted(p.field for p in info.value.problems) == [
        "address.postal_code", "address.prefecture", "birth_date", "email", "phone"]
