"""The admin's sidebar, grouped by the job people come to do rather than by Django app, and
each role's start page.

``sidebar(request)`` is django-unfold's ``SIDEBAR["navigation"]`` callback: it lists only the
pages the signed-in person may open, so an agent's sidebar holds no loyalty configuration
and a marketer's no API keys. ``start_page(user)`` is where ``/admin/`` sends each role
(``crm.admin_site.CrmAdminSite.index``).
"""

from dataclasses import dataclass

from django.urls import NoReverseMatch, reverse

from crm import roles


@dataclass(frozen=True)
class Page:
    title: str
    icon: str  # a Material Symbols name, which unfold's sidebar draws
    model: str = ""  # "app.Model": its changelist, shown to whoever may view that model
    url_name: str = ""  # or a named admin URL, shown to whoever holds ``permission``
    permission: str = ""

    def url(self) -> str:
        if self.model:
            app, model = self.model.lower().split(".")
            return reverse(f"admin:{app}_{model}_changelist")
        return reverse(self.url_name)

    def allowed(self, user) -> bool:
        if self.model:
            app, model = self.model.lower().split(".")
            return user.has_perm(f"{app}.view_{model}") or user.has_perm(f"{app}.change_{model}")
        return user.has_perm(self.permission) if self.permission else user.is_active


DASHBOARD = Page("Dashboard", "monitoring", url_name="admin:dashboard", permission=roles.VIEW_DASHBOARD)

GROUPS: list[tuple[str, list[Page]]] = [
    ("Start", [DASHBOARD]),
    (
        "Support",
        [
            Page("Tickets", "support_agent", "support.Ticket"),
            Page("Reviews", "reviews", "support.Review"),
            Page("Review moderation", "gavel", "support.ReviewModeration"),
            Page("CSAT", "sentiment_satisfied", "support.CsatResponse"),
            Page("NPS", "recommend", "support.NpsResponse"),
            Page("Macros", "bolt", "support.Macro"),
            Page("Inbound emails", "move_to_inbox", "support.InboundEmail"),
        ],
    ),
    (
        "Customers",
        [
            Page("Customers", "person_search", "crm.Customer360"),
            Page("Customer records", "group", "customers.Customer"),
            Page("Merges", "merge", "customers.CustomerMerge"),
            Page(
                "Suggested duplicates",
                "content_copy",
                url_name="admin:customers_customermerge_suggestions",
                permission="customers.merge_customers",
            ),
            Page("Stage changes", "timeline", "customers.StageChange"),
            Page("Tags", "sell", "customers.Tag"),
            Page("Privacy requests", "privacy_tip", "crm.PrivacyRequest"),
            Page("Erasures", "person_remove", "crm.ErasureLog"),
            Page("Erased addresses", "unsubscribe", "customers.ErasedEmail"),
        ],
    ),
    (
        "Marketing",
        [
            Page("Segments", "filter_alt", "campaigns.Segment"),
            Page("Segment members", "groups", "campaigns.SegmentMembership"),
            Page("Campaigns", "campaign", "campaigns.Campaign"),
            Page("Flows", "account_tree", "campaigns.Flow"),
            Page("Marketing spend", "payments", "campaigns.MarketingSpend"),
        ],
    ),
    (
        "Email",
        [
            Page("Messages", "mail", "messaging.Message"),
            Page("Preview and test", "preview", url_name="admin:messaging_preview", permission="messaging.send_test"),
            Page("Suppressions", "unsubscribe", "messaging.Suppression"),
            Page("Outbox", "outbox", "messaging.OutboxEmail"),
            Page("IMAP mailboxes", "move_to_inbox", "messaging.ImapMailbox"),
        ],
    ),
    (
        "Loyalty",
        [
            Page("Accounts", "loyalty", "loyalty.Account"),
            Page("Points ledger", "receipt_long", "loyalty.PointsEntry"),
            Page("Reward codes", "redeem", "loyalty.RewardCode"),
            Page("Referrals", "share", "loyalty.Referral"),
            Page("Tier changes", "military_tech", "loyalty.TierChange"),
            Page("Programmes", "workspace_premium", "loyalty.Programme"),
            Page("Tiers", "stairs", "loyalty.Tier"),
            Page("Earning rules", "rule", "loyalty.EarningRule"),
            Page("Rewards", "card_giftcard", "loyalty.Reward"),
            Page("Past orders credits", "history", "loyalty.PastOrdersCredit"),
        ],
    ),
    (
        "Commerce",
        [
            Page("Orders", "shopping_bag", "customers.Order"),
            Page("Order lines", "list_alt", "customers.OrderLine"),
            Page("Refunds", "undo", "customers.Refund"),
            Page("Events", "bolt", "customers.Event"),
            Page("Products", "inventory_2", "customers.Product"),
            Page("Pending updates", "pending", "customers.PendingUpdate"),
            Page("Identities", "badge", "customers.CustomerIdentity"),
            Page("Shop tags", "sell", "customers.ShopTag"),
        ],
    ),
    (
        "Settings",
        [
            Page("Shops", "storefront", "customers.Shop"),
            Page("Shop groups", "store", "customers.ShopGroup"),
            Page("API keys", "key", "customers.ApiKey"),
            Page("Exchange rates", "currency_exchange", "customers.ExchangeRate"),
            Page("Shop connections", "cable", "crm.ShopConnection"),
            Page("Webhooks", "webhook", "crm.WebhookEndpoint"),
            Page("Sender identities", "alternate_email", "messaging.SenderIdentity"),
            Page("Sending policy", "schedule_send", "campaigns.SendingPolicy"),
            Page("Attribution settings", "conversion_path", "campaigns.AttributionSettings"),
            Page("SLA policies", "timer", "support.SlaPolicy"),
            Page("Business hours", "schedule", "support.BusinessHours"),
            Page("Teams", "diversity_3", "support.Team"),
            Page("Lifecycle settings", "tune", "customers.LifecycleSettings"),
            Page("CLV models", "query_stats", "customers.ClvModel"),
            Page("Customer metrics", "analytics", "customers.CustomerMetrics"),
            Page("Customer signals", "sensors", "customers.CustomerSignal"),
            Page("Staff", "manage_accounts", "auth.User"),
            Page("Roles", "admin_panel_settings", "auth.Group"),
        ],
    ),
    (
        "Operations",
        [
            Page("Task failures", "error", "crm.TaskFailure"),
            Page("Scheduled runs", "event_repeat", "crm.ScheduledRun"),
            Page("Platform webhooks received", "call_received", "crm.WebhookDelivery"),
            Page("Outbound webhooks sent", "send", "crm.OutboundDelivery"),
            Page("Idempotency records", "fingerprint", "crm.IdempotencyRecord"),
            Page("Audit log", "history", "auditlog.LogEntry"),
            Page("Sign-in lockouts", "lock", "axes.AccessAttempt"),
            Page("Sign-in log", "login", "axes.AccessLog"),
            Page("Failed sign-ins", "block", "axes.AccessFailureLog"),
        ],
    ),
]


def _reachable(page: Page) -> str | None:
    try:
        return page.url()
    except NoReverseMatch:  # a model not registered in this admin
        return None


def sidebar(request) -> list[dict]:
    """unfold's sidebar: each group with the pages this person may open, empty groups left out."""
    groups = []
    for title, pages in GROUPS:
        items = []
        for page in pages:
            url = _reachable(page)
            if url and page.allowed(request.user):
                items.append({"title": page.title, "icon": page.icon, "link": url})
        if items:
            groups.append({"title": title, "separator": True, "collapsible": False, "items": items})
    return groups


# Each role's start page, in order of precedence for someone who holds several roles.
START_PAGES: list[tuple[str, Page]] = [
    (roles.MANAGER, DASHBOARD),
    (roles.SUPPORT_AGENT, Page("Tickets", "", "support.Ticket")),
    (roles.MARKETER, Page("Segments", "", "campaigns.Segment")),
]


def start_page(user) -> str | None:
    """Where ``/admin/`` sends ``user``: their role's page (a superuser's is the manager's
    dashboard), or None for the index (someone without a role)."""
    if user.is_superuser:
        return _reachable(DASHBOARD)
    held = set(user.groups.values_list("name", flat=True))
    for role, page in START_PAGES:
        if role in held and page.allowed(user):
            return _reachable(page)
    return None
