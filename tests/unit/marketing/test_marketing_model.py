"""Marketing cost rules without a database."""

from __future__ import annotations

from datetime import UTC, date, datetime
from uuid import uuid4

import pytest
from hypothesis import given
from hypothesis import strategies as st

from domain.marketing.model import MAX_PERIOD_DAYS, MarketingCost, normalise_cost
from domain.shared.errors import InvalidInput

NOW = datetime(2026, 11, 23, tzinfo=UTC)


def _create(**fields):
    values = normalise_cost({"period_from": date(2026, 10, 1), "period_to": date(2026, 10, 31),
                             "amount": 1000, "channel": "web", **fields}, creating=True)
    return MarketingCost.create(id=uuid4(), values=values, currency="JPY", now=NOW)


def test_a_cost_is_normalised_and_counts_its_days_inclusively():
    cost = _create(channel=" ｉｎｓｔａｇｒａｍ_ad ")
    assert cost.channel == "instagram_ad"
    assert cost.days == 31


def test_every_problem_is_reported_at_once():
    with pytest.raises(InvalidInput) as exc:
        normalise_cost({"amount": -1, "channel": "x" * 33}, creating=True)
    fields = {p.field for p in exc.value.problems}
    assert fields == {"period_from", "period_to", "amount", "channel"}


def test_a_cost_names_a_channel_or_a_campaign():
    with pytest.raises(InvalidInput) as exc:
        _create(channel=None)
    assert exc.value.problems[0].field == "channel"
    assert _create(channel=None, campaign_id="autumn").campaign_id == "autumn"


def test_period_must_be_ordered_and_bounded():
    with pytest.raises(InvalidInput):
        _create(period_from=date(2026, 11, 1), period_to=date(2026, 10, 31))
    with pytest.raises(InvalidInput):
        _create(period_from=date(2026, 1, 1), period_to=date(2026, 1, 1).replace(year=2037))


def test_amount_must_be_an_integer():
    for bad in (True, 1.5, "12"):
        with pytest.raises(InvalidInput):
            normalise_cost({"amount": bad}, creating=False)


def test_patch_that_changes_nothing_keeps_the_version():
    cost = _create()
    assert cost.changed({"amount": 1000}, NOW) is cost
    changed = cost.changed({"amount": 2000}, NOW)
    assert changed.version == 2 and changed.amount == 2000


def test_patch_cannot_clear_both_channel_and_campaign():
    with pytest.raises(InvalidInput):
        _create().changed(normalise_cost({"channel": None}, creating=False), NOW)


@given(start=st.dates(min_value=date(2000, 1, 1), max_value=date(2040, 1, 1)),
       length=st.integers(min_value=1, max_value=MAX_PERIOD_DAYS))
def test_days_is_the_inclusive_length(start, length):
    end = date.fromordinal(start.toordinal() + length - 1)
    assert _create(period_from=start, period_to=end).days == length
