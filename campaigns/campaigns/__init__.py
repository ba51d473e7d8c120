"""Campaigns, one-off sends: who (``audience``), sending them (``sending``), what staff do
with one (``actions``: schedule, send now, cancel, a test to oneself, the preview), the
results per variant (``results``) and the automatic winner (``winner``)."""
