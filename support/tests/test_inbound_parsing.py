"""Whatever bytes arrive, reading them never fails: an email the desk cannot make sense of is
recorded, not lost and not a 500 (hypothesis writes the hostile ones)."""

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from messaging.tests.fixtures import branded_shop
from support.inbound import inbound_receive
from support.inbound.parsing import parse
from support.inbound.rules import automatic_reason
from support.inbound.trimming import body_text, reply_html, reply_text

HEADER_NAMES = st.sampled_from(
    ["From", "To", "Cc", "Subject", "Message-ID", "In-Reply-To", "References", "Content-Type",
     "Content-Transfer-Encoding", "Auto-Submitted", "Return-Path", "Delivered-To", "Precedence"]
)  # fmt: skip
HEADER_VALUES = st.text(alphabet=st.characters(codec="latin-1", exclude_characters="\r\n"), max_size=60)
MIME_BODY = st.binary(max_size=300)


@st.composite
def emails(draw) -> bytes:
    headers = draw(st.lists(st.tuples(HEADER_NAMES, HEADER_VALUES), max_size=8))
    head = b"".join(f"{name}: {value}\r\n".encode("latin-1") for name, value in headers)
    return head + b"\r\n" + draw(MIME_BODY)


@given(raw=st.one_of(emails(), st.binary(max_size=400)))
@settings(max_examples=300, deadline=None)
def test_any_bytes_are_read_without_an_error(raw):
    parsed = parse(raw)
    automatic_reason(parsed)
    assert len(reply_html(reply_text(body_text(parsed.text, parsed.html)))) <= 25_000
    assert parsed.message_key and len(parsed.message_key) <= 255


@pytest.fixture
def shop(db):
    return branded_shop()


@given(raw=emails())
@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
def test_any_email_is_recorded_whatever_it_holds(shop, raw):
    """With a shop to open tickets in, so matching and opening run too."""
    result = inbound_receive(raw, via="imap")
    assert result.email.pk is not None and result.email.outcome


def test_nul_characters_are_dropped_from_what_is_stored(shop):
    """PostgreSQL refuses NUL in text columns (hypothesis found it): the stored subject and
    message lose them, the original keeps them."""
    raw = (
        b"From: Ann <ann@example.com>\r\nTo: support@acme.example\r\nSubject: Bro\x00ken\r\n"
        b"Message-ID: <nul\x00@example.com>\r\n\r\nThe lid\x00 is broken.\r\n"
    )

    email = inbound_receive(raw, via="imap").email

    assert email.outcome == "opened" and email.subject == "Broken" and email.message_key == "<nul@example.com>"
    assert email.ticket_message.text == "The lid is broken."
    assert bytes(email.raw) == raw
