"""What the email tests share, in and out of this app: a real SMTP server the CRM sends to,
and a shop with a sender identity ("Acme Coffee"). Import the fixture into a test module or
a conftest to use it there."""

import pytest

from customers.tests.factories import ShopFactory
from messaging.models import SenderIdentity
from messaging.tests.smtp_sink import Sink, SmtpServer

SMTP_BACKEND = "messaging.backends.SmtpBackend"


def smtp_mailer(port: int, backend: str = SMTP_BACKEND) -> dict:
    return {"BACKEND": backend, "OPTIONS": {"host": "127.0.0.1", "port": port, "timeout": 5}}


@pytest.fixture
def smtp(settings):
    """A real SMTP server on 127.0.0.1 that the CRM sends to (``settings`` point at it)."""
    with SmtpServer(Sink()) as server:
        settings.MESSAGING_MAILER = smtp_mailer(server.port)
        settings.EMAIL_RATE_PER_SECOND = 0
        yield server.sink


def branded_shop(**identity) -> "ShopFactory":
    """A shop sending as "Acme Coffee <hello@acme.example>", replies to support@acme.example,
    in its colour and with its postal address; ``identity`` changes any of them."""
    shop = ShopFactory(name="Acme Coffee")
    SenderIdentity.objects.create(
        shop=shop,
        **{
            "from_name": "Acme Coffee",
            "from_email": "hello@acme.example",
            "reply_to": "support@acme.example",
            "brand_colour": "#aa3300",
            "footer_address": "Acme Coffee Ltd\n1 Bean Street, Leeds",
            **identity,
        },
    )
    return shop
