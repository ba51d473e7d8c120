import pytest

from customers.tests.factories import CustomerFactory, ShopFactory
from messaging.models import SenderIdentity
from messaging.tests.smtp_sink import Sink, SmtpServer

SMTP_BACKEND = "django.core.mail.backends.smtp.EmailBackend"


def smtp_mailer(port: int, backend: str = SMTP_BACKEND) -> dict:
    return {"BACKEND": backend, "OPTIONS": {"host": "127.0.0.1", "port": port, "timeout": 5}}


@pytest.fixture
def smtp(settings):
    """A real SMTP server on 127.0.0.1 that the CRM sends to (``settings`` point at it)."""
    with SmtpServer(Sink()) as server:
        settings.MESSAGING_MAILER = smtp_mailer(server.port)
        settings.EMAIL_RATE_PER_SECOND = 0
        yield server.sink


@pytest.fixture
def shop(db):
    shop = ShopFactory(name="Acme Coffee")
    SenderIdentity.objects.create(
        shop=shop,
        from_name="Acme Coffee",
        from_email="hello@acme.example",
        reply_to="support@acme.example",
        brand_colour="#aa3300",
        footer_address="Acme Coffee Ltd\n1 Bean Street, Leeds",
    )
    return shop


@pytest.fixture
def customer(db):
    return CustomerFactory(email="ann@example.com", first_name="Ann", last_name="Lee")
