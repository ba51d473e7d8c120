"""Each customer's points account per shop group, and the append-only ledger behind it.

Points are money-like. Every change of a balance is a ledger row (``PointsEntry``); the
account's ``balance`` and ``pending`` are a cache of the ledger's sums, moved with the row
in the same transaction (``loyalty.ledger``) and checked by ``manage.py loyalty_verify``.
"""

from decimal import Decimal

from django.conf import settings
from django.db import models
from django.db.models import Q

from customers.models import MONEY, ApiKey, Customer, Order, ShopGroup
from loyalty.models.programme import EarningRule, Tier


class Account(models.Model):
    """A customer's points in one shop group: the cached sums of the ledger's entries for
    (customer, group), their tier there and their referral code there.

    Shops share points only within a group (a manager puts them in one; by default each shop
    is alone in its own), so a customer has one account per group they earned or spent in,
    and a shop's key sees only its group's account.

    ``balance`` may go below zero only when points already spent are reversed (a refund
    after the return window); a redemption never takes it below zero.

    Every ledger write updates these rows, so they carry few indexes (each one is written
    again on an update that cannot stay in its page), and on PostgreSQL the table leaves a
    tenth of each page free (migration ``0005``), so a balance update usually can."""

    id = models.BigAutoField(primary_key=True)
    # Found through the (customer, group) constraint's index, which leads with the customer.
    customer = models.ForeignKey(Customer, on_delete=models.PROTECT, related_name="loyalty_accounts", db_index=False)
    group = models.ForeignKey(ShopGroup, on_delete=models.PROTECT, related_name="loyalty_accounts", db_index=False)
    balance = models.BigIntegerField(default=0)
    pending = models.BigIntegerField(default=0)
    tier = models.ForeignKey(
        Tier, null=True, blank=True, on_delete=models.PROTECT, related_name="accounts", db_index=False
    )
    tier_since = models.DateTimeField(null=True, blank=True)
    # Set while the customer is below their tier's keep threshold: the day they move down.
    tier_grace_until = models.DateTimeField(null=True, blank=True)
    # The figure the tier was last evaluated on (spend or points in this group over the term).
    tier_qualifying = models.DecimalField(**MONEY, default=Decimal(0))
    # Unique by a constraint, not ``unique=True`` (which adds a LIKE-ready index on PostgreSQL);
    # NULL until first used, as the accounts without one must not clash. A code names an
    # account, so it refers within that account's group.
    referral_code = models.CharField(max_length=16, null=True, blank=True)  # noqa: DJ001
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        constraints = [
            # One account per customer and group; every ledger write finds its account by it.
            models.UniqueConstraint(fields=["customer", "group"], name="account_customer_group_uniq"),
            models.CheckConstraint(condition=Q(pending__gte=0), name="account_pending_gte_0"),
            models.UniqueConstraint(fields=["referral_code"], name="account_referral_code_uniq"),
        ]
        indexes = [models.Index(fields=["tier"], name="account_tier_idx")]

    def __str__(self):
        return f"{self.customer} in {self.group}: {self.balance} points"


class EntryKind(models.TextChoices):
    EARN = "earn", "earned"
    MATURE = "mature", "pending → available"
    CANCEL = "cancel", "pending cancelled (refund in the return window)"
    REDEEM = "redeem", "redeemed"
    EXPIRE = "expire", "expired"
    REVERSE = "reverse", "reversed (refund after the return window)"
    REFUND = "refund", "reward code expired unused: points given back"
    ADJUST = "adjust", "manual adjustment"
    TRANSFER = "transfer", "moved between accounts (shop groups merged)"


class PointsEntry(models.Model):
    """One change to a customer's points: append-only (no update, no delete; on PostgreSQL a
    trigger refuses both). ``available`` and ``pending`` are the changes to each figure.

    ``key`` makes every write idempotent: an earn's key is its (source, rule), so replaying an
    order or re-running a task awards nothing twice (the insert does nothing on a clash)."""

    Kind = EntryKind

    # Indexes are few on purpose: each one is paid on every insert (the award writes 150,000
    # rows for 100,000 orders). The customer is found through ``entry_customer_idx``; the
    # staff and key through nothing (an audit question, asked rarely); the key through its
    # unique constraint (not ``unique=True``, which adds a second, LIKE-ready index on PostgreSQL).
    customer = models.ForeignKey(Customer, on_delete=models.PROTECT, related_name="points_entries", db_index=False)
    # With the customer, the account the entry moves (``Account`` of (customer, group)).
    group = models.ForeignKey(ShopGroup, on_delete=models.PROTECT, related_name="+", db_index=False)
    kind = models.CharField(max_length=8, choices=EntryKind.choices)
    available = models.BigIntegerField(default=0)
    pending = models.BigIntegerField(default=0)
    key = models.CharField(max_length=120)
    # What the points came from: "order:12", "review:5", "birthday:2026", "event:9",
    # "referral:3", "code:7", "adjust:…".
    source = models.CharField(max_length=60)
    # Both looked up through the (order, rule) index below; an index on the rule alone (a
    # handful of values) misleads the planner into scanning a rule's every entry.
    rule = models.ForeignKey(
        EarningRule, null=True, blank=True, on_delete=models.PROTECT, related_name="+", db_index=False
    )
    order = models.ForeignKey(Order, null=True, blank=True, on_delete=models.PROTECT, related_name="+", db_index=False)
    # An order earn's net amount (base currency): a partial refund reverses points in proportion.
    basis = models.DecimalField(**MONEY, null=True, blank=True)
    # A pending earn's date to become available.
    matures_at = models.DateTimeField(null=True, blank=True)
    reason = models.CharField(max_length=255, blank=True)
    # Who adjusted by hand: a staff user in the admin, or a manager-role API key.
    staff = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+", db_index=False
    )
    api_key = models.ForeignKey(
        ApiKey, null=True, blank=True, on_delete=models.PROTECT, related_name="+", db_index=False
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        verbose_name_plural = "points entries"
        permissions = [("adjust_points", "Can adjust a customer's points by hand")]
        ordering = ["-id"]
        constraints = [
            models.UniqueConstraint(fields=["key"], name="entry_key_uniq"),
            models.CheckConstraint(condition=Q(kind__in=EntryKind.values), name="entry_kind_valid"),
            models.CheckConstraint(
                condition=~Q(kind=EntryKind.EARN) | (Q(available__gte=0) & Q(pending__gte=0)),
                name="entry_earn_not_negative",
            ),
            models.CheckConstraint(
                condition=~Q(kind__in=[EntryKind.REDEEM, EntryKind.EXPIRE, EntryKind.REVERSE])
                | (Q(available__lte=0) & Q(pending=0)),
                name="entry_debit_from_available",
            ),
            models.CheckConstraint(
                condition=~Q(kind=EntryKind.CANCEL) | (Q(pending__lte=0) & Q(available=0)),
                name="entry_cancel_from_pending",
            ),
            models.CheckConstraint(
                condition=~Q(kind=EntryKind.MATURE) | Q(available=-models.F("pending")),
                name="entry_mature_moves_pending",
            ),
            models.CheckConstraint(
                condition=~Q(kind=EntryKind.ADJUST)
                | (~Q(reason="") & (Q(staff__isnull=False) | Q(api_key__isnull=False))),
                name="entry_adjust_has_reason_and_staff",
            ),
        ]
        indexes = [
            # A customer's history, newest first; the verify and expiry sums per customer.
            models.Index(fields=["customer", "id"], name="entry_customer_idx"),
            # An order's points per rule: refunds reverse them, maturation moves them.
            models.Index(fields=["order", "rule"], name="entry_order_rule_idx"),
            # The maturation sweep: pending earns whose date has come.
            models.Index(fields=["matures_at"], condition=Q(kind="earn"), name="entry_earn_matures_idx"),
        ]

    def __str__(self):
        return f"{self.get_kind_display()} {self.available:+}/{self.pending:+} ({self.source})"

    def save(self, *args, **kwargs):
        if self.pk is not None and not self._state.adding:
            raise ValueError("The points ledger is append-only: entries are never changed.")
        super().save(*args, **kwargs)

    def delete(self, *args, **kwargs):
        raise ValueError("The points ledger is append-only: entries are never deleted.")


class TierChange(models.Model):
    """A customer's move between tiers, with the figures behind it."""

    customer = models.ForeignKey(Customer, on_delete=models.CASCADE, related_name="tier_changes")
    # The account's group (empty for moves recorded before accounts were per group).
    group = models.ForeignKey(ShopGroup, null=True, blank=True, on_delete=models.CASCADE, related_name="+")
    from_tier = models.ForeignKey(Tier, null=True, blank=True, on_delete=models.PROTECT, related_name="+")
    to_tier = models.ForeignKey(Tier, null=True, blank=True, on_delete=models.PROTECT, related_name="+")
    reason = models.CharField(max_length=255)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [models.Index(fields=["customer", "created_at"], name="tier_change_customer_idx")]

    def __str__(self):
        return f"{self.customer}: {self.from_tier or '—'} → {self.to_tier or '—'}"
