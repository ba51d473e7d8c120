"""The campaigns app's admin: segments (``segments``, with the rule-builder form in
``forms``), campaigns (``campaigns``, with ``campaign_forms``), flows (``flows``) and
marketing spend with the attribution settings (``spend``)."""

from campaigns.admin import campaigns, flows, segments, spend  # noqa: F401 (registers the models)
