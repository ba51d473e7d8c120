"""Providers' inbound webhooks (django-anymail, under ``/anymail/<provider>/inbound/``):
anymail checks the request (Mailgun's and others' signatures, the basic auth of
``ANYMAIL_WEBHOOK_SECRET``) and normalises the email; this receiver hands it to the desk.
A basic-auth provider's call while that secret is unset, and a body anymail cannot read, are
refused before they get here (messaging/webhook_auth.py).

Connected in ``SupportConfig.ready`` with a ``dispatch_uid``, so once however often apps load.
A replayed webhook (providers retry until they get a 200) writes nothing twice: the email's
Message-ID makes it once only.
"""

from __future__ import annotations

from support.inbound.receive import inbound_receive_anymail


def on_inbound(sender, event, esp_name: str, **kwargs) -> None:
    """anymail's ``inbound`` signal: the email of one webhook call."""
    inbound_receive_anymail(event.message, via=esp_name.lower().replace(" ", "_")[:40])


def connect() -> None:
    from anymail.signals import inbound

    inbound.connect(on_inbound, dispatch_uid="support.inbound.webhooks.on_inbound")
