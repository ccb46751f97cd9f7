"""Columns, cells and customer rows: header checks, Japanese spreadsheet conventions, matching."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pytest

from domain.customers.attributes import AttributeDefinition, AttributeType
from domain.customers.model import Address, Customer
from domain.imports.cells import parse_bool, parse_date, parse_datetime, parse_int, split_list
from domain.imports.columns import resolve_header
from domain.imports.customers import parse_customer, plan_customers
from domain.imports.model import ImportContext, ImportKind, Parsed, Rejection, SourceRecord
from domain.shared.errors import InvalidInput

NOW = datetime(2026, 11, 22, 3, 0, tzinfo=UTC)


def ctx(**definitions: AttributeDefinition) -> ImportContext:
    return ImportContext(today=date(2026, 11, 22), now=NOW, timezone="Asia/Tokyo", currency="JPY",
                         definitions=dict(definitions))


# -- header ----------------------------------------------------------------------------------

def test_header_accepts_contract_names_aliases_and_attribute_columns():
    columns = resolve_header(ImportKind.CUSTOMERS, [
        "\ufeffExternal_ID", "email", "ADDRESS.postal_code", "prefecture", "attributes.rank", "", "reject_line"])
    assert columns.names == ("external_id", "email", "postal_code", "prefecture", "attributes.rank")


def test_header_reports_every_problem_at_once():
    with pytest.raises(InvalidInput) as caught:
        resolve_header(ImportKind.CUSTOMERS, ["family_name", "emial", "family_name", "attributes."])
    messages = [f"{p.field}: {p.message}" for p in caught.value.problems]
    assert any("unknown column 'emial'" in m for m in messages)
    assert any("appears twice" in m for m in messages)
    assert any("attributes.<name> needs a name" in m for m in messages)
    assert any("needs a column one of external_id" in m for m in messages)


def test_orders_header_needs_a_customer_reference_and_line_columns():
    with pytest.raises(InvalidInput) as caught:
        resolve_header(ImportKind.ORDERS, ["order_number", "ordered_at", "sku"])
    wanted = {p.message for p in caught.value.problems}
    assert "needs a column quantity" in wanted and "needs a column unit_price" in wanted
    assert any("customer_id" in m for m in wanted)
    assert resolve_header(ImportKind.ORDERS, ["order_number", "customer.email", "ordered_at", "sku", "quantity",
                                               "unit_price"]).names[1] == "customer_email"


def test_a_record_of_the_wrong_width_is_a_rejection_and_blank_cells_are_not_given():
    columns = resolve_header(ImportKind.CUSTOMERS, ["external_id", "email", "city"])
    assert columns.values(SourceRecord(2, ["C1", " ", "港区 "])) == {"external_id": "C1", "city": "港区"}
    assert columns.values(SourceRecord(3, ["C1", "x", "y", ""])) == {"external_id": "C1", "email": "x", "city": "y"}
    short = columns.values(SourceRecord(4, ["C1", "x"]))
    assert isinstance(short, Rejection) and short.line == 4 and "expected 3 fields, found 2" in short.reason


# -- cells -----------------------------------------------------------------------------------

@pytest.mark.parametrize("text", ["2024-01-31", "2024/1/31", "２０２４／０１／３１", "2024年1月31日", "20240131"])
def test_dates_as_spreadsheets_write_them(text):
    assert parse_date(text, field="d") == date(2024, 1, 31)


def test_impossible_dates_are_refused():
    with pytest.raises(InvalidInput, match="not a real date"):
        parse_date("2024-02-30", field="d")


def test_datetimes_without_offset_are_tenant_local_time():
    assert parse_datetime("2024/01/31 10:30", field="t", timezone="Asia/Tokyo") == datetime(
        2024, 1, 31, 1, 30, tzinfo=UTC)
    assert parse_datetime("2024-01-31", field="t", timezone="Asia/Tokyo").utcoffset() == timedelta(hours=9)
    assert parse_datetime("2024-01-31T10:30:00+00:00", field="t", timezone="Asia/Tokyo").tzinfo == UTC


@pytest.mark.parametrize(("text", "value"), [("1,200", 1200), ("¥1,200", 1200), ("１２００円", 1200), ("0", 0)])
def test_money_cells(text, value):
    assert parse_int(text, field="price", money=True) == value


def test_money_cells_refuse_decimals_and_negatives():
    with pytest.raises(InvalidInput):
        parse_int("12.5", field="price", money=True)
    with pytest.raises(InvalidInput, match="at least 0"):
        parse_int("-1", field="price", money=True)


def test_lists_and_booleans():
    assert split_list("vip| newsletter ;;line") == ["vip", "newsletter", "line"]
    assert parse_bool("はい", field="b") is True and parse_bool("0", field="b") is False


# -- customer rows ---------------------------------------------------------------------------

def test_a_row_is_normalised_by_the_customer_rules():
    row = parse_customer({
        "external_id": "Ｃ００１", "email": "Hanako@Example.JP", "phone": "０９０－１２３４－５６７８",
        "family_name": "山田", "family_name_kana": "ﾔﾏﾀﾞ", "given_name_kana": "はなこ", "birth_date": "1990/1/2",
        "gender": "女性", "postal_code": "〒１００－０００１", "prefecture": "東京", "tags": "vip|newsletter",
        "acquisition.occurred_at": "2024/04/01 09:00", "acquisition.stage": "pre_purchase",
    }, ctx())
    v = row.values
    assert row.key == ("external_id", "C001")
    assert (v["email"], v["phone"], v["family_name_kana"]) == ("hanako@example.jp", "+819012345678", "ヤマダ")
    assert v["birth_date"] == date(1990, 1, 2) and v["gender"].value == "female"
    assert v["address"] == Address(postal_code="100-0001", prefecture="13")
    assert v["tags"] == ("newsletter", "vip")
    assert v["acquisition"].occurred_at == datetime(2024, 4, 1, tzinfo=UTC)


def test_a_bad_row_lists_every_problem():
    with pytest.raises(InvalidInput) as caught:
        parse_customer({"external_id": "C1", "email": "nope", "birth_date": "2099-01-01", "gender": "?",
                        "family_name_kana": "山田"}, ctx())
    assert {p.field for p in caught.value.problems} == {"email", "birth_date", "gender", "family_name_kana"}


def test_attributes_are_typed_by_their_definitions():
    definitions = {"points": AttributeDefinition("points", AttributeType.INTEGER),
                   "member": AttributeDefinition("member", AttributeType.BOOLEAN)}
    row = parse_customer({"external_id": "C1", "attributes.points": "1,200", "attributes.member": "はい",
                          "attributes.note": "free text"}, ctx(**definitions))
    assert row.values["attributes"] == {"points": 1200, "member": True, "note": "free text"}
    with pytest.raises(InvalidInput) as caught:
        parse_customer({"external_id": "C1", "attributes.points": "many"}, ctx(**definitions))
    assert [p.field for p in caught.value.problems] == ["attributes.points"]


def test_the_matching_key_is_external_id_then_email_then_phone_and_one_is_needed():
    assert parse_customer({"email": "a@example.jp", "phone": "09012345678"}, ctx()).key == ("email", "a@example.jp")
    assert parse_customer({"phone": "09012345678"}, ctx()).key == ("phone", "+819012345678")
    with pytest.raises(InvalidInput, match="customer row"):
        parse_customer({"family_name": "山田"}, ctx())


# -- planning a chunk ------------------------------------------------------------------------

def _items(*rows: dict[str, str]) -> list[Parsed]:
    return [Parsed(SourceRecord(line=i + 2, fields=list(r.values())), parse_customer(r, ctx()))
            for i, r in enumerate(rows)]


def test_rows_create_customers_and_claim_their_identities():
    plan = plan_customers(_items({"external_id": "C1", "email": "a@example.jp"},
                                 {"external_id": "C2", "phone": "09011112222"}), owners={}, current={}, ctx=ctx())
    assert plan.accepted == 2 and not plan.rejections and not plan.updated
    by_ext = {c.external_id: c for c in plan.created}
    assert sorted((k, v) for k, v, _ in plan.claims) == [
        ("email", "a@example.jp"), ("external_id", "C1"), ("external_id", "C2"), ("phone", "+819011112222")]
    assert all(owner == by_ext["C1"].id for k, v, owner in plan.claims if v in ("C1", "a@example.jp"))


def test_the_same_customer_twice_in_a_chunk_applies_in_order():
    plan = plan_customers(_items({"external_id": "C1", "email": "a@example.jp", "city": "港区"},
                                 {"external_id": "C1", "email": "b@example.jp"}), owners={}, current={}, ctx=ctx())
    (customer,) = plan.created
    assert customer.email == "b@example.jp" and customer.address.city == "港区"
    assert ("email", "a@example.jp") not in {(k, v) for k, v, _ in plan.claims}


def test_an_identity_of_another_customer_rejects_the_row_not_the_chunk():
    other = Customer(id=_uuid(1), created_at=NOW, updated_at=NOW, external_id="X", email="a@example.jp")
    plan = plan_customers(_items({"external_id": "C1", "email": "a@example.jp"},
                                 {"external_id": "C2", "email": "c@example.jp"},
                                 {"external_id": "C3", "email": "c@example.jp"}),
                          owners={("email", "a@example.jp"): other.id}, current={}, ctx=ctx())
    assert plan.accepted == 1
    assert [(r.line, r.reason) for r in plan.rejections] == [
        (2, f"email 'a@example.jp' already belongs to customer {other.id}"),
        (4, "email 'c@example.jp' already belongs to the customer created from line 3")]


def test_an_update_keeps_what_the_row_leaves_blank_and_moves_identities():
    existing = Customer(id=_uuid(2), created_at=NOW - timedelta(days=1), updated_at=NOW, external_id="C1",
                        email="old@example.jp", address=Address(postal_code="100-0001", city="千代田区"),
                        attributes={"rank": "gold"}, version=3)
    owners = {("external_id", "C1"): existing.id, ("email", "old@example.jp"): existing.id}
    plan = plan_customers(_items({"external_id": "C1", "email": "new@example.jp", "city": "港区",
                                  "attributes.tier": "2"}), owners=owners, current={existing.id: existing}, ctx=ctx())
    (updated,) = plan.updated
    assert updated.address == Address(postal_code="100-0001", city="港区")
    assert updated.attributes == {"rank": "gold", "tier": "2"} and updated.version == 4
    assert plan.releases == [("email", "old@example.jp", existing.id)]
    assert plan.claims == [("email", "new@example.jp", existing.id)]


def test_an_email_released_earlier_in_the_chunk_can_be_taken_later_in_it():
    a = Customer(id=_uuid(3), created_at=NOW, updated_at=NOW, external_id="A", email="x@example.jp")
    owners = {("external_id", "A"): a.id, ("email", "x@example.jp"): a.id}
    plan = plan_customers(_items({"external_id": "A", "email": "y@example.jp"},
                                 {"external_id": "B", "email": "x@example.jp"}),
                          owners=owners, current={a.id: a}, ctx=ctx())
    assert plan.accepted == 2 and not plan.rejections


def test_required_attributes_are_needed_for_new_customers_only():
    definitions = {"store": AttributeDefinition("store", AttributeType.STRING, required=True)}
    existing = Customer(id=_uuid(4), created_at=NOW, updated_at=NOW, external_id="OLD")
    items = [Parsed(SourceRecord(2, []), parse_customer({"external_id": "NEW"}, ctx(**definitions))),
             Parsed(SourceRecord(3, []), parse_customer({"external_id": "OLD", "family_name": "山田"},
                                                        ctx(**definitions)))]
    plan = plan_customers(items, owners={("external_id", "OLD"): existing.id}, current={existing.id: existing},
                          ctx=ctx(**definitions))
    assert plan.accepted == 1 and plan.rejections[0].line == 2 and "attributes.store" in plan.rejections[0].reason


def _uuid(n: int):
    from uuid import UUID
    return UUID(int=n)


def test_attribute_text_is_cleaned_like_other_text():
    with pytest.raises(InvalidInput) as caught:
        parse_customer({"external_id": "C1", "attributes.note": "a\x00b"}, ctx())
    assert [p.field for p in caught.value.problems] == ["attributes.note"]
