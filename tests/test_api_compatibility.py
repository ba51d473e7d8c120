"""The compatibility promise of /api/v1/: the committed schema snapshot is the current schema,
and the check that guards it fails on what clients rely on going away unless the changelog
names it (docs/api.md, "Versioning")."""

import copy

import pytest

from crm.api import compatibility
from crm.api.compatibility import breaking_changes, read_snapshot, unlogged

HEADER = "# API changelog\n\nNamed like `OrderOut.total_base` (this introduction excuses nothing).\n\n"


@pytest.fixture(scope="module")
def snapshot():
    return compatibility.comparable(read_snapshot())


def test_the_committed_snapshot_is_the_current_schema_and_nothing_was_lost_unlogged():
    report = compatibility.check()
    assert report.ok, report.message()


def names(old, new, changelog=HEADER) -> list[str]:
    return [change.name for change in unlogged(breaking_changes(old, new), changelog)]


def test_a_removed_field_fails_without_an_entry_and_passes_with_one(snapshot):
    new = copy.deepcopy(snapshot)
    del new["components"]["schemas"]["OrderOut"]["properties"]["total_base"]

    assert names(snapshot, new) == ["OrderOut.total_base"]
    entry = HEADER + "## 2027-01-10\n\n- **Removed:** `OrderOut.total_base`: read `total` and `exchange_rate`.\n"
    assert names(snapshot, new, entry) == []
    # An entry about something else does not do.
    assert names(snapshot, new, HEADER + "## 2027-01-10\n\n- **Removed:** `OrderOut.total`\n") == [
        "OrderOut.total_base"
    ]


def test_a_renamed_request_field_is_a_loss_of_the_old_name(snapshot):
    new = copy.deepcopy(snapshot)
    properties = new["components"]["schemas"]["RefundIn"]["properties"]
    properties["refund_reason"] = properties.pop("reason")

    assert names(snapshot, new) == ["RefundIn.reason"]


def test_removed_operations_parameters_enum_values_and_components_are_named(snapshot):
    new = copy.deepcopy(snapshot)
    del new["paths"]["/api/v1/nps"]
    customers = new["paths"]["/api/v1/customers"]["get"]
    customers["parameters"] = [p for p in customers["parameters"] if p["name"] != "email"]
    enum = new["components"]["schemas"]["OrderStatusEnum"]
    enum["enum"] = [value for value in enum["enum"] if value != "refunded"]
    del new["components"]["schemas"]["ReferralOut"]

    assert sorted(names(snapshot, new)) == [
        "GET /api/v1/customers parameter email",
        "OrderStatusEnum: refunded",
        "POST /api/v1/nps",
        "ReferralOut",
    ]
    entry = HEADER + (
        "## 2027-01-10\n\n- **Removed:** `/api/v1/nps`, `GET /api/v1/customers parameter email`, "
        "`OrderStatusEnum: refunded`, `ReferralOut`\n"
    )
    assert names(snapshot, new, entry) == []


def test_a_changed_type_or_a_newly_required_request_field_is_breaking_too(snapshot):
    new = copy.deepcopy(snapshot)
    order = new["components"]["schemas"]["OrderIn"]
    order["properties"]["total"] = {"type": "number"}
    order["required"].append("status")
    order["properties"]["channel"] = {"type": "string", "description": "new"}
    order["required"].append("channel")

    changes = {c.name: c.what for c in breaking_changes(snapshot, new)}

    assert changes == {
        "OrderIn.total": "type changed from string:decimal to number",
        "OrderIn.status": "request field now required",
        "OrderIn.channel": "new required request field",
    }


def test_additions_break_nothing_but_make_the_snapshot_stale(snapshot):
    new = copy.deepcopy(snapshot)
    new["components"]["schemas"]["OrderOut"]["properties"]["gift_note"] = {"type": "string"}
    new["paths"]["/api/v1/orders"]["get"] = copy.deepcopy(new["paths"]["/api/v1/customers"]["get"])

    assert breaking_changes(snapshot, new) == []
    report = compatibility.check(new, old=snapshot)
    assert (report.unlogged, report.stale) == ([], True)
    assert "make schema" in report.message()


def test_a_value_a_response_enum_gains_needs_an_entry_so_strict_clients_are_regenerated(snapshot):
    """A client generated with strict enums (openapi-python-client's) raises on a status it
    does not know: a new value in a response is announced in the changelog."""
    new = copy.deepcopy(snapshot)
    new["components"]["schemas"]["OrderStatusEnum"]["enum"].append("on_hold")

    assert names(snapshot, new) == ["OrderStatusEnum: on_hold"]
    entry = HEADER + "## 2027-01-10\n\n- **Added:** `OrderStatusEnum: on_hold`, an order held by the shop.\n"
    assert names(snapshot, new, entry) == []


def test_a_request_type_may_widen_and_a_response_type_may_narrow_but_not_the_reverse(snapshot):
    new = copy.deepcopy(snapshot)
    order_in = new["components"]["schemas"]["OrderIn"]["properties"]
    order_in["total"] = {"anyOf": [order_in["total"], {"type": "number"}]}  # a number accepted too
    order_out = new["components"]["schemas"]["OrderOut"]["properties"]
    order_out["customer_id"]["type"] = "integer"  # never null now
    assert breaking_changes(snapshot, new) == []

    order_out["total"]["type"] = ["string", "null"]  # may be null now: a client was not told
    order_in["currency"]["type"] = "integer"  # a string is refused now
    assert {c.name for c in breaking_changes(snapshot, new)} == {"OrderOut.total", "OrderIn.currency"}
