"""The staff roles, as Django groups with permissions: what each kind of person may see
and change, in the admin and through an API key given that role.

``sync_roles`` makes the groups match ``ROLES``. It runs after every ``migrate`` (and
``flush``), on ``post_migrate``, as ``django.contrib.auth`` creates permissions: a change
to ``ROLES`` or a new model needs no migration, and no migration imports this module.
"""

SUPPORT_AGENT = "Support agent"
MARKETER = "Marketer"
MANAGER = "Manager"

# Reads the KPI dashboard (the manager's start page).
VIEW_DASHBOARD = "crm.view_dashboard"

_VIEW_CUSTOMERS = [
    "customers.view_customer",
    "customers.view_customeridentity",
    "customers.view_order",
    "customers.view_orderline",
    "customers.view_refund",
    "customers.view_event",
    "customers.view_product",
    "customers.view_tag",
    "customers.view_customermetrics",
    "customers.view_stagechange",
    "crm.view_customer360",
    "crm.view_customernote",
    "crm.add_customernote",
    "crm.tag_customer",
]

# Everyone with a role sees customers' points, tiers and codes (to answer "where are my
# points?"); nobody but a manager adjusts points or sees the liability.
_VIEW_LOYALTY = [
    f"loyalty.view_{model}"
    for model in ("programme", "tier", "earningrule", "ruletiermultiplier", "account", "pointsentry", "tierchange")
] + ["loyalty.view_reward", "loyalty.view_rewardcode", "loyalty.view_referral"]
_CONFIGURE_LOYALTY = [
    f"loyalty.{action}_{model}"
    for model in ("programme", "tier", "earningrule", "ruletiermultiplier", "reward")
    for action in ("add", "change", "delete")
]

# The email log: what was sent to a customer and what became of it; the support mailbox's
# messages that could not be read into their tickets.
_VIEW_EMAIL = [
    "messaging.view_message",
    "messaging.view_messageevent",
    "messaging.view_suppression",
    "messaging.view_imapmailbox",
    "messaging.view_imapfailure",
]

ROLES: dict[str, list[str]] = {
    # Works tickets and reviews; reads customers, orders and segments. No segment,
    # campaign, loyalty, shop or key changes.
    SUPPORT_AGENT: [
        *_VIEW_CUSTOMERS,
        "campaigns.view_segment",
        "campaigns.view_segmentversion",
        *[f"support.{action}_{model}" for model in ("ticket", "ticketmessage") for action in ("view", "add", "change")],
        "support.view_internal_notes",
        "support.view_inboundemail",
        "support.view_review",
        "support.change_review",
        "support.add_review",
        "support.view_macro",
        "support.view_team",
        "support.view_slapolicy",
        "support.view_businesshours",
        "support.view_csatresponse",
        "support.view_npsresponse",
        "support.add_npsresponse",
        *_VIEW_LOYALTY,
        *_VIEW_EMAIL,
        # Privacy requests: take them, work the queue, answer a data request with the export.
        # Erasing is the manager's alone (it cannot be undone).
        *[f"crm.{action}_privacyrequest" for action in ("view", "add", "change")],
        "crm.export_customer_data",
        # Two records of one person, found on a call: merge them, read the log, undo a merge
        # (docs/merge.md). Marketers read the figures but do not restructure customers.
        "customers.merge_customers",
        "customers.view_customermerge",
    ],
    # Segments, campaigns and loyalty configuration; reads customers and orders, and
    # tickets without their internal notes.
    MARKETER: [
        *_VIEW_CUSTOMERS,
        "customers.add_tag",
        # Marketing consent's history (read-only for everyone: it is evidence).
        "customers.view_consentevent",
        *[
            f"campaigns.{action}_{model}"
            for model in ("segment", "segmentversion")
            for action in ("view", "add", "change", "delete")
        ],
        "campaigns.view_segmentmembership",
        # Campaigns: build, send, schedule and cancel them.
        *[
            f"campaigns.{action}_{model}"
            for model in ("campaign", "email", "variant")
            for action in ("view", "add", "change", "delete")
        ],
        "campaigns.send_campaign",
        # The frequency cap and quiet hours every campaign and flow keeps: read; managers set them.
        "campaigns.view_sendingpolicy",
        # Flows: build and edit them, switch them on and off; read who is where.
        *[
            f"campaigns.{action}_{model}"
            for model in ("flow", "flowstep")
            for action in ("view", "add", "change", "delete")
        ],
        "campaigns.activate_flow",
        "campaigns.view_flowrun",
        # Marketing spend (CAC, ROAS), entered or imported; the attribution's settings and credits.
        *[f"campaigns.{action}_marketingspend" for action in ("view", "add", "change", "delete")],
        "campaigns.view_attributionsettings",
        "campaigns.change_attributionsettings",
        "campaigns.view_attributioncredit",
        "campaigns.view_touchpoint",
        "support.view_ticket",
        "support.view_ticketmessage",
        "support.view_review",
        "support.view_npsresponse",
        "support.view_csatresponse",
        *_VIEW_LOYALTY,
        *_CONFIGURE_LOYALTY,
        # The referral review queue: approve or reject held referrals.
        "loyalty.change_referral",
        # Email: the log, the outbox, senders' branding; suppress an address; preview a
        # template and send a test to oneself.
        *_VIEW_EMAIL,
        "messaging.view_outboxemail",
        "messaging.view_senderidentity",
        "messaging.add_suppression",
        "messaging.send_test",
        # Outbound webhooks: read the endpoints and the delivery log; managers change them.
        "crm.view_webhookendpoint",
        "crm.view_outbounddelivery",
    ],
    # MANAGER: every permission there is (see sync_roles), shops and API keys included.
    MANAGER: [],
}


def sync_roles_after_migrate(sender, *, apps=None, using="default", **kwargs) -> None:
    """The ``post_migrate`` receiver (``CrmConfig.ready``), with the migrated state's apps."""
    if apps is None:
        from django.apps import apps
    sync_roles(apps, using=using)


def sync_roles(apps, schema_editor=None, *, using: str = "default") -> None:
    """Create the groups and set their permissions to ROLES (the manager: all of them)."""
    from django.contrib.auth.management import create_permissions

    # On a new database, permissions are created after all migrations; make them now.
    # (create_permissions skips an app whose models_module is unset, as a migration state's
    # apps have it; set it for the call and put it back: after a flush these are the live
    # app configs, and leaving it unset made the next flush skip every app.)
    for app_config in apps.get_app_configs():
        previous = getattr(app_config, "models_module", None)
        app_config.models_module = previous or True
        create_permissions(app_config, apps=apps, verbosity=0, using=using)
        app_config.models_module = previous
    Group = apps.get_model("auth", "Group")
    Permission = apps.get_model("auth", "Permission")
    everything = list(Permission.objects.using(using).all())
    by_name = {
        f"{p.content_type.app_label}.{p.codename}": p
        for p in Permission.objects.using(using).select_related("content_type")
    }
    for name, codenames in ROLES.items():
        group, _ = Group.objects.using(using).get_or_create(name=name)
        group.permissions.set(everything if name == MANAGER else [by_name[c] for c in codenames if c in by_name])
