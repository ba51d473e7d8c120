"""The campaigns app's admin: segments (``segments``, with the rule-builder form in
``forms``), campaigns (``campaigns``, with ``campaign_forms``) and flows (``flows``)."""

from campaigns.admin import campaigns, flows, segments  # noqa: F401 (registers the models)
