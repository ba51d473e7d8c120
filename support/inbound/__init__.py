"""The desk's inbound email: customers' replies and new requests, from the IMAP reader or a
provider's inbound webhook, into tickets (docs/email.md, "Inbound").

- ``receive``: the entry points and what happens to each email;
- ``parsing``: the raw message read (no database);
- ``rules``: automatic mail and loops, not answered or added;
- ``matching``: the ticket an email answers, the shop a new ticket belongs to;
- ``trimming``: the reply without its quoted history and signature;
- ``attachments``: files kept within the settings' limits;
- ``webhooks``: anymail's inbound signal, connected when the app is ready.
"""

from support.inbound.receive import InboundResult, inbound_receive, inbound_receive_anymail

__all__ = ["InboundResult", "inbound_receive", "inbound_receive_anymail"]
