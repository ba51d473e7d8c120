"""Outbound webhooks (docs/integrations.md, "Outbound webhooks"): per shop, staff subscribe
an https endpoint to events, and the CRM delivers them in the Standard Webhooks format.

- ``models``: endpoints, deliveries, the watermark of each event source, the outbox of events
  that have no history row of their own;
- ``secrets``: each endpoint's signing secret, generated, shown once, stored encrypted;
- ``addresses``: where a webhook may point (no private, loopback, link-local or reserved address);
- ``events``: the outbox pass: new history rows → one delivery per subscribed endpoint;
- ``delivery``: claim due deliveries, sign, POST, back off, give up, disable an endpoint;
- ``services``: what staff do (create an endpoint, send a delivery again, switch back on).
"""
