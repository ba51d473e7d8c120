"""A Python client generated from /api/v1/schema/ by a maintained generator works against a
live server: it pushes an order, a refund, an event and a ticket, and reads the customer's
profile, with a shop's key.

The client is generated here, from the schema the live server serves, by the pinned
openapi-python-client (requirements.txt; `make client` writes the same into build/), so the
test follows the schema: if the generator leaves an operation out, or a response does not
parse into its model, the schema is what to fix (crm/api/schema.py, extend_schema on views).
"""

import importlib
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from customers.services.api_keys import shop_create

ROOT = Path(__file__).resolve().parent.parent
GENERATOR = Path(sys.executable).parent / "openapi-python-client"
CONFIG = ROOT / "config" / "openapi-python-client.yaml"
PACKAGE = "crm_api_client"

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.usefixtures("deferred_work_within_the_request")]


@pytest.fixture
def generated_client(live_server, tmp_path):
    """The generated package, imported; forgotten afterwards."""
    out = tmp_path / "client"
    run = subprocess.run(
        [str(GENERATOR), "generate", "--url", f"{live_server.url}/api/v1/schema/"]
        + ["--config", str(CONFIG), "--output-path", str(out)],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert run.returncode == 0, run.stdout + run.stderr
    # Any warning means a part of the schema the generator could not turn into code.
    assert "Warning" not in run.stdout + run.stderr, run.stdout + run.stderr
    sys.path.insert(0, str(out))
    try:
        yield lambda name: importlib.import_module(f"{PACKAGE}.{name}")
    finally:
        sys.path.remove(str(out))
        for name in [m for m in sys.modules if m == PACKAGE or m.startswith(f"{PACKAGE}.")]:
            del sys.modules[name]


def test_the_generated_client_pushes_an_order_a_refund_an_event_and_a_ticket_and_reads_the_profile(
    live_server, generated_client
):
    _, issued = shop_create(slug="my-shop", name="My Shop")
    client = generated_client("client").AuthenticatedClient(base_url=live_server.url, token=issued.key)
    m = generated_client("models")
    orders = generated_client("api.orders")
    placed_at = datetime.now(UTC).replace(microsecond=0) - timedelta(days=2)

    ann = m.CustomerIn(external_id="c-1", email="ann@example.com", first_name="Ann", country="DE")
    order = m.OrderIn(
        external_id="1001",
        placed_at=placed_at,
        currency="USD",
        status=m.OrderInStatus.PAID,
        total="59.90",
        customer=ann,
        lines=[m.LineIn(sku="TEA-1", name="Green tea", quantity=2, unit_price="29.95")],
    )
    created = importlib.import_module(f"{orders.__name__}.orders_upsert").sync_detailed(client=client, body=order)
    assert created.status_code == 201
    assert isinstance(created.parsed, m.OrderOut)
    assert (created.parsed.external_id, created.parsed.total, created.parsed.status) == ("1001", "59.90", "paid")
    customer_id = created.parsed.customer_id

    refund_call = importlib.import_module(f"{orders.__name__}.orders_refund")
    refund = m.RefundIn(amount="29.95", reason="Damaged", external_id="r-1")
    refunded = refund_call.sync_detailed(client=client, external_id="1001", body=refund, idempotency_key="refund-r-1")
    assert refunded.status_code == 201 and isinstance(refunded.parsed, m.RefundOut)
    assert (refunded.parsed.amount, refunded.parsed.order_id) == ("29.95", created.parsed.id)
    again = refund_call.sync_detailed(client=client, external_id="1001", body=refund, idempotency_key="refund-r-1")
    assert (again.status_code, again.headers["Idempotent-Replayed"]) == (201, "true")

    event_call = generated_client("api.events.events_create")
    event = m.EventIn(
        type_="cart_abandoned",
        customer=m.CustomerIn(external_id="c-1"),
        payload=m.EventInPayload.from_dict({"cart_value": "34.90"}),
        external_id="evt-1",
    )
    recorded = event_call.sync_detailed(client=client, body=event)
    assert recorded.status_code == 201 and isinstance(recorded.parsed, m.EventOut)
    assert (recorded.parsed.type_, recorded.parsed.customer_id) == ("cart_abandoned", customer_id)

    ticket_call = generated_client("api.tickets.tickets_create")
    ticket = m.TicketIn(
        customer=m.CustomerIn(external_id="c-1"),
        subject="Where is my parcel?",
        message="Ordered two days ago.",
        order_external_id="1001",
        external_id="form-7",
    )
    opened = ticket_call.sync_detailed(client=client, body=ticket)
    assert opened.status_code == 201 and isinstance(opened.parsed, m.TicketOut)
    assert (opened.parsed.subject, opened.parsed.order_external_id) == ("Where is my parcel?", "1001")

    refused = importlib.import_module(f"{orders.__name__}.orders_upsert").sync_detailed(
        client=client, body=m.OrderIn.from_dict({**order.to_dict(), "currency": "ZZZ"})
    )
    assert refused.status_code == 400 and isinstance(refused.parsed, m.Error)
    assert "currency" in refused.parsed.errors.to_dict()

    profile = generated_client("api.customers.customers_retrieve").sync(client=client, id=customer_id)
    assert isinstance(profile, m.CustomerProfile)
    assert (profile.id, profile.email, profile.external_ids, profile.country) == (
        customer_id,
        "ann@example.com",
        ["c-1"],
        "DE",
    )
    assert (profile.orders_count, profile.net_revenue, profile.currency) == (1, "29.95", "USD")
