"""The campaigns app's admin: segments (``segments``, with the rule-builder form in
``forms``) and campaigns (``campaigns``, with ``campaign_forms``)."""

from campaigns.admin import campaigns, segments  # noqa: F401 (registers the models)
