"""Every foreign key to ``customers.Customer``, and what a merge does with its rows.

``RELATIONS`` names each one deliberately; ``crm/tests/test_merging.py`` fails when a model
gains a foreign key to Customer that is not listed here, so a new app cannot be forgotten
by the merge. Rules (docs/merge.md):

- ``MOVE``: every row of the duplicate moves to the survivor (set-based, one UPDATE).
- ``MOVE_FREE``: a unique constraint names the customer; rows move unless the survivor
  already has one in their place (``taken``), which stay with the duplicate.
- ``TAGS``: the staff's tags: the survivor gets the duplicate's tags it lacks.
- ``POINTS``: points move by ledger transfers (``loyalty.transfers``), never as rows.
- ``KEEP``: the rows stay with the duplicate, for the reason given.
"""

from collections.abc import Callable
from dataclasses import dataclass
from enum import StrEnum

from django.apps import apps
from django.db.models import Exists, Model, OuterRef, Q, QuerySet


class Rule(StrEnum):
    MOVE = "move"
    MOVE_FREE = "move unless taken"
    TAGS = "tags"
    POINTS = "points"
    KEEP = "keep"


@dataclass(frozen=True)
class Relation:
    label: str  # "app.Model"
    field: str  # the foreign key's name
    rule: Rule
    kind: str  # what the preview calls the rows
    why: str = ""
    # MOVE_FREE: the rows of the queryset that the customer ``taker`` already has in their place.
    taken: Callable[[int], Q] | None = None
    # Undo is refused once a moved row of this model changed (its ``updated_at``).
    watched: bool = False

    @property
    def model(self) -> type[Model]:
        return apps.get_model(self.label)

    @property
    def key(self) -> str:
        return self.label if self.field == "customer" else f"{self.label}.{self.field}"


def _rows(label: str) -> QuerySet:
    return apps.get_model(label)._default_manager.all()


def _shop_tag_taken(taker: int) -> Q:
    same = _rows("customers.ShopTag").filter(customer_id=taker, shop=OuterRef("shop"), tag=OuterRef("tag"))
    return Q(Exists(same))


def _send_taken(taker: int) -> Q:
    same = _rows("campaigns.Send").filter(customer_id=taker, email=OuterRef("email"), occasion=OuterRef("occasion"))
    return Q(Exists(same))


def _membership_taken(taker: int) -> Q:
    # Only open stays are unique per (segment, customer); closed ones are history and all move.
    open_stay = _rows("campaigns.SegmentMembership").filter(
        customer_id=taker, segment=OuterRef("segment"), exited_at__isnull=True
    )
    return Q(exited_at__isnull=True) & Q(Exists(open_stay))


def _flow_run_taken(taker: int) -> Q:
    runs = _rows("campaigns.FlowRun").filter(customer_id=taker, flow=OuterRef("flow"))
    same_trigger = runs.filter(trigger_key=OuterRef("trigger_key"))
    return Q(Exists(same_trigger)) | Q(status="active") & Q(Exists(runs.filter(status="active")))


def _review_taken(taker: int) -> Q:
    # One review per customer and product: the survivor's own review of the product stays theirs.
    same = _rows("support.Review").filter(customer_id=taker, product=OuterRef("product"))
    return Q(Exists(same))


def _referrer_taken(taker: int) -> Q:
    return Q(referee_id=taker)  # the survivor would have referred themself


def _referee_taken(taker: int) -> Q:
    referred = _rows("loyalty.Referral").filter(referee_id=taker, group=OuterRef("group"))
    return Q(referrer_id=taker) | Q(Exists(referred))


RELATIONS: list[Relation] = [
    # customers
    Relation("customers.CustomerIdentity", "customer", Rule.MOVE, "shop identities", watched=True),
    Relation("customers.Order", "customer", Rule.MOVE, "orders", watched=True),
    Relation("customers.Event", "customer", Rule.MOVE, "events", watched=True),
    Relation("customers.ConsentEvent", "customer", Rule.MOVE, "consent history"),
    Relation("customers.CustomerSignal", "customer", Rule.MOVE, "promoter and detractor signals"),
    Relation("customers.ShopTag", "customer", Rule.MOVE_FREE, "shops' tags", taken=_shop_tag_taken),
    Relation("customers.Customer_tags", "customer", Rule.TAGS, "tags"),
    Relation(
        "customers.CustomerMetrics",
        "customer",
        Rule.KEEP,
        "figures",
        why="one row per customer: both are recomputed from their orders after the merge",
    ),
    Relation(
        "customers.StageChange",
        "customer",
        Rule.KEEP,
        "stage history",
        why="the duplicate's own history; the survivor's stage is recomputed and records its change",
    ),
    Relation(
        "customers.PendingUpdate",
        "customer",
        Rule.KEEP,
        "pending follow-up work",
        why="the outbox: the merge recomputes both customers itself",
    ),
    Relation(
        "customers.CustomerMerge",
        "survivor",
        Rule.KEEP,
        "merge log",
        why="the log names both customers as they were merged",
    ),
    Relation(
        "customers.CustomerMerge",
        "merged",
        Rule.KEEP,
        "merge log",
        why="the log names both customers as they were merged",
    ),
    # loyalty
    Relation(
        "loyalty.Account",
        "customer",
        Rule.POINTS,
        "points",
        why="one account per customer and shop group: the duplicate's points move by transfer entries",
    ),
    Relation(
        "loyalty.PointsEntry",
        "customer",
        Rule.POINTS,
        "points",
        why="the ledger is append-only: its entries stay; transfer entries move the balance",
    ),
    Relation(
        "loyalty.TierChange",
        "customer",
        Rule.KEEP,
        "tier history",
        why="the history of the duplicate's accounts; the survivor's tier is evaluated again",
    ),
    Relation("loyalty.RewardCode", "customer", Rule.MOVE, "reward codes"),
    Relation("loyalty.Referral", "referrer", Rule.MOVE_FREE, "referrals made", taken=_referrer_taken),
    Relation("loyalty.Referral", "referee", Rule.MOVE_FREE, "referred by", taken=_referee_taken),
    # campaigns
    Relation("campaigns.SegmentMembership", "customer", Rule.MOVE_FREE, "segment memberships", taken=_membership_taken),
    Relation("campaigns.FlowRun", "customer", Rule.MOVE_FREE, "flow positions", taken=_flow_run_taken),
    Relation("campaigns.Send", "customer", Rule.MOVE_FREE, "campaign sends", taken=_send_taken),
    Relation("campaigns.Touchpoint", "customer", Rule.MOVE, "attribution touches"),
    # messaging
    Relation("messaging.Message", "customer", Rule.MOVE, "emails"),
    # support
    Relation("support.Ticket", "customer", Rule.MOVE, "tickets", watched=True),
    Relation("support.Review", "customer", Rule.MOVE_FREE, "reviews", taken=_review_taken),
    Relation("support.NpsResponse", "customer", Rule.MOVE, "NPS answers"),
    Relation("support.CsatResponse", "customer", Rule.MOVE, "CSAT answers"),
    # crm
    Relation("crm.CustomerNote", "customer", Rule.MOVE, "staff notes"),
    Relation(
        "crm.WebhookEvent",
        "customer",
        Rule.KEEP,
        "outbound webhook events",
        why="events already announced to shops, as they were sent",
    ),
    # An open request about the duplicate is about the person: it follows them.
    Relation("crm.PrivacyRequest", "customer", Rule.MOVE, "privacy requests"),
    *(
        Relation(
            "crm.DuplicateSuggestion",
            field,
            Rule.KEEP,
            "suggested duplicates",
            why="derived pairs: hidden once either customer is merged away, gone at the next build",
        )
        for field in ("first", "second")
    ),
    Relation(
        "crm.ErasureLog",
        "customer",
        Rule.KEEP,
        "erasure log",
        why="the record of an erasure names the customer as they were erased",
    ),
]

MOVING = [r for r in RELATIONS if r.rule in (Rule.MOVE, Rule.MOVE_FREE)]
