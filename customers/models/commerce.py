"""Shops, customers and the commerce data they push: orders, refunds, events.

This app imports none of the other apps (see docs/architecture.md). Workflows live in
``customers.services``; this module holds data, constraints and indexes only.
"""

from decimal import Decimal

from django.db import models
from django.db.models import Q
from django.db.models.functions import Upper

from core.time_zones import MAX_LENGTH as TIME_ZONE_LENGTH
from core.time_zones import validate_time_zone
from customers.phones import phone_digits_sql

MONEY = {"max_digits": 14, "decimal_places": 2}
ZERO = Decimal("0.00")


class TimeStampedModel(models.Model):
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        abstract = True


class ShopGroup(TimeStampedModel):
    """Shops that share a customer's profile and loyalty balance (docs/security.md).

    A shop's key is that shop's credential and sees only what its group's shops sent. Every
    shop is in exactly one group; a new shop gets a group of its own, so by default a shop
    shares with no one, and a manager puts shops in one group to share.
    """

    name = models.CharField(max_length=200)

    class Meta:
        ordering = ["name"]

    def __str__(self):
        return self.name


class Shop(TimeStampedModel):
    """A sales channel: a storefront or checkout that pushes data through the API."""

    slug = models.SlugField(max_length=64, unique=True)
    name = models.CharField(max_length=200)
    is_active = models.BooleanField(default=True)
    group = models.ForeignKey(
        ShopGroup,
        on_delete=models.PROTECT,
        related_name="shops",
        blank=True,
        help_text="Shops in one group share customers' profiles and loyalty balances. Empty: a group of its own.",
    )
    double_opt_in = models.BooleanField(
        "double opt-in",
        default=False,
        help_text="A subscription through the API counts only once the person confirms it from an email.",
    )

    class Meta:
        ordering = ["slug"]

    def __str__(self):
        return self.name

    def save(self, *args, **kwargs):
        # The default group is the shop's own: sharing is opt-in (docs/security.md).
        if self.group_id is None:
            self.group = ShopGroup.objects.create(name=self.name)
        super().save(*args, **kwargs)


class ApiKey(TimeStampedModel):
    """A shop's API key. Only a SHA-256 hash is stored; the key is shown once, at creation.

    Keys look like ``crm_<prefix>_<secret>``. The prefix is stored in clear so a request's key
    is found by an indexed lookup and shown in the admin to tell keys apart.
    """

    shop = models.ForeignKey(Shop, on_delete=models.CASCADE, related_name="api_keys")
    name = models.CharField(max_length=100, default="default")
    # Empty: the shop's integration key, allowed every API call on its shop's data. With a
    # role (a staff group: Support agent, Marketer, Manager), only the calls whose
    # permissions the role holds (``crm.api.auth.RolePermission``).
    role = models.ForeignKey(
        "auth.Group",
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
        help_text="Empty: a full integration key for the shop. A role limits the key to what that role may do.",
    )
    prefix = models.CharField(max_length=16, unique=True)
    key_hash = models.CharField(max_length=64)
    revoked_at = models.DateTimeField(null=True, blank=True)
    last_used_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        verbose_name = "API key"
        ordering = ["-created_at"]

    def __str__(self):
        return f"{self.shop.slug}: {self.name} ({self.prefix}…)"

    @property
    def is_active(self) -> bool:
        return self.revoked_at is None


class Tag(models.Model):
    name = models.CharField(max_length=64, unique=True)

    class Meta:
        ordering = ["name"]

    def __str__(self):
        return self.name


class Customer(TimeStampedModel):
    """One person across all shops, unified by normalised email.

    The aggregate fields (orders_count … avg_order_value) are derived from orders and refunds
    by ``customers.services.recompute_chunk`` (the recompute) and never written anywhere else.
    """

    email = models.EmailField(blank=True)
    # Lower-cased, trimmed email: the key that unifies a person across shops.
    email_normalized = models.CharField(max_length=254, null=True, blank=True, unique=True, editable=False)
    first_name = models.CharField(max_length=150, blank=True)
    last_name = models.CharField(max_length=150, blank=True)
    phone = models.CharField(max_length=32, blank=True)
    # The phone as staff search compares it (``customers.phones``): computed by the database
    # on every write, whoever writes (ingestion, the admin, COPY), so it cannot drift.
    phone_digits = models.GeneratedField(
        expression=phone_digits_sql("phone"), output_field=models.CharField(max_length=32), db_persist=True
    )
    country = models.CharField(max_length=2, blank=True, help_text="ISO 3166-1 alpha-2")
    birthday = models.DateField(null=True, blank=True)
    time_zone = models.CharField(
        max_length=TIME_ZONE_LENGTH,
        blank=True,
        default="",
        db_default="",
        validators=[validate_time_zone],
        help_text="IANA name, e.g. Europe/Berlin: campaigns send at the customer's hour and keep their quiet hours. "
        "Empty: the CRM's time zone.",
    )
    tags = models.ManyToManyField(Tag, blank=True, related_name="customers")
    marketing_consent = models.BooleanField(default=False)
    marketing_consent_at = models.DateTimeField(null=True, blank=True)
    # Where the customer was first seen.
    first_seen_at = models.DateTimeField(null=True, blank=True)
    first_seen_shop = models.ForeignKey(
        Shop, null=True, blank=True, on_delete=models.SET_NULL, related_name="first_seen_customers"
    )
    source = models.CharField(max_length=100, blank=True)
    utm_source = models.CharField(max_length=100, blank=True)
    utm_medium = models.CharField(max_length=100, blank=True)
    utm_campaign = models.CharField(max_length=100, blank=True)

    # Aggregates, in the base currency, net of refunds, excluding cancelled orders.
    orders_count = models.PositiveIntegerField(default=0)
    net_revenue = models.DecimalField(**MONEY, default=ZERO)
    avg_order_value = models.DecimalField(**MONEY, default=ZERO)
    first_order_at = models.DateTimeField(null=True, blank=True)
    last_order_at = models.DateTimeField(null=True, blank=True)
    aggregates_updated_at = models.DateTimeField(null=True, blank=True)
    # The columns above, in that order: written by the recompute alone (read-only in the
    # admin, left out of the audit history, set in one statement by the recompute).
    AGGREGATE_FIELDS = (
        "orders_count",
        "net_revenue",
        "avg_order_value",
        "first_order_at",
        "last_order_at",
        "aggregates_updated_at",
    )

    class Meta:
        ordering = ["-id"]
        constraints = [
            models.CheckConstraint(condition=Q(net_revenue__gte=0), name="customer_net_revenue_gte_0"),
            models.CheckConstraint(condition=Q(avg_order_value__gte=0), name="customer_aov_gte_0"),
        ]
        indexes = [
            # Admin "country" filter and segment rules on country; with the id, a rule's
            # country condition is read from the index alone (no visit to the wide rows).
            models.Index(fields=["country", "id"], name="customer_country_id_idx"),
            # Admin ordering by recency of purchase (the admin adds -id to every ordering).
            models.Index(fields=["last_order_at", "id"], name="customer_last_order_idx"),
            # API list filter `updated_since` and sync jobs.
            models.Index(fields=["updated_at"], name="customer_updated_idx"),
        ]
        # Not declared here, PostgreSQL only: the staff search's indexes on the name, the
        # email's part before "@" and phone_digits (migration 0016_customer_search_indexes).

    def __str__(self):
        name = f"{self.first_name} {self.last_name}".strip()
        return name or self.email or f"Customer {self.pk}"


class CustomerIdentity(TimeStampedModel):
    """A shop's own reference to a customer: (shop, external_id) is unique.

    It also keeps the profile that shop sent under that reference: a shop's key reads the
    profile of its group's identities, never the ``Customer`` row, which merges every shop's
    values for the staff (docs/architecture.md, "Per-shop profiles"). ``updated_at`` is when
    the shop last changed it: the most recent update wins where a group's identities differ.
    """

    shop = models.ForeignKey(Shop, on_delete=models.CASCADE, related_name="identities")
    customer = models.ForeignKey(Customer, on_delete=models.CASCADE, related_name="identities")
    # A shop's customer id (up to 255 characters), or "email:<email>" for a shop that sends none.
    external_id = models.CharField(max_length=320)
    # What the shop sent; a non-empty value overwrites, an empty one never erases.
    email = models.EmailField(blank=True)
    first_name = models.CharField(max_length=150, blank=True)
    last_name = models.CharField(max_length=150, blank=True)
    phone = models.CharField(max_length=32, blank=True)
    country = models.CharField(max_length=2, blank=True)
    birthday = models.DateField(null=True, blank=True)
    time_zone = models.CharField(
        max_length=TIME_ZONE_LENGTH,
        blank=True,
        default="",
        db_default="",
        validators=[validate_time_zone],
        help_text="IANA name, e.g. Europe/Berlin.",
    )
    marketing_consent = models.BooleanField(null=True, blank=True)  # None: the shop never said
    marketing_consent_at = models.DateTimeField(null=True, blank=True)
    # Where this shop first saw the customer (set when the identity is made, never changed).
    first_seen_at = models.DateTimeField(null=True, blank=True)
    source = models.CharField(max_length=100, blank=True)
    utm_source = models.CharField(max_length=100, blank=True)
    utm_medium = models.CharField(max_length=100, blank=True)
    utm_campaign = models.CharField(max_length=100, blank=True)

    class Meta:
        verbose_name_plural = "customer identities"
        constraints = [
            models.UniqueConstraint(fields=["shop", "external_id"], name="identity_shop_external_id_uniq"),
        ]
        indexes = [
            # "Is this customer linked to the key's shop?" (API scoping).
            models.Index(fields=["customer", "shop"], name="identity_customer_shop_idx"),
            # A key's customer list filtered by `updated_since` (the group's profile changes).
            models.Index(fields=["shop", "updated_at"], name="identity_shop_updated_idx"),
        ]

    def __str__(self):
        return f"{self.shop.slug}:{self.external_id}"


class ShopTag(models.Model):
    """A tag as one shop sent it for a customer. ``Customer.tags`` is the staff's merged set
    (with the tags staff add); a shop's key reads and tests only its group's rows here."""

    shop = models.ForeignKey(Shop, on_delete=models.CASCADE, related_name="+")
    customer = models.ForeignKey(Customer, on_delete=models.CASCADE, related_name="shop_tags", db_index=False)
    tag = models.ForeignKey(Tag, on_delete=models.CASCADE, related_name="+", db_index=False)

    class Meta:
        constraints = [
            # Also the index of a customer's tags in the API profile.
            models.UniqueConstraint(fields=["customer", "shop", "tag"], name="shoptag_customer_shop_tag_uniq"),
        ]
        indexes = [
            # A segment rule's "tags has any of" through a key: the tags' rows of the group's shops.
            models.Index(fields=["tag", "shop"], name="shoptag_tag_shop_idx"),
        ]

    def __str__(self):
        return f"{self.shop_id}:{self.customer_id}:{self.tag_id}"


class ExchangeRate(models.Model):
    """How many units of the base currency one unit of ``currency`` is worth."""

    currency = models.CharField(max_length=3, unique=True)
    rate_to_base = models.DecimalField(max_digits=18, decimal_places=8)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["currency"]
        constraints = [
            models.CheckConstraint(condition=Q(rate_to_base__gt=0), name="exchange_rate_gt_0"),
        ]

    def __str__(self):
        return f"1 {self.currency} = {self.rate_to_base}"


class Product(TimeStampedModel):
    shop = models.ForeignKey(Shop, on_delete=models.CASCADE, related_name="products")
    sku = models.CharField(max_length=100)
    name = models.CharField(max_length=255)
    category = models.CharField(max_length=100, blank=True)
    price = models.DecimalField(**MONEY, default=ZERO)
    currency = models.CharField(max_length=3, blank=True)
    # The product's page in the shop (for recommendations in emails and storefronts).
    url = models.URLField(max_length=500, blank=True, default="", db_default="")
    # What recommendations may offer: never an inactive or out-of-stock product.
    is_active = models.BooleanField(default=True, db_default=True)
    in_stock = models.BooleanField(default=True, db_default=True)
    # A consumable is bought again about this many days after the last purchase: it comes
    # back into the buyer's recommendations when due. Null: not consumable (bought once).
    replenish_days = models.PositiveIntegerField(null=True, blank=True)

    class Meta:
        ordering = ["shop", "sku"]
        constraints = [
            models.UniqueConstraint(fields=["shop", "sku"], name="product_shop_sku_uniq"),
            models.CheckConstraint(condition=Q(price__gte=0), name="product_price_gte_0"),
            models.CheckConstraint(
                condition=Q(replenish_days__isnull=True) | Q(replenish_days__gte=1, replenish_days__lte=3650),
                name="product_replenish_days_range",
            ),
        ]
        indexes = [models.Index(fields=["category"], name="product_category_idx")]

    def __str__(self):
        return f"{self.name} ({self.sku})"


class OrderStatus(models.TextChoices):
    PLACED = "placed"
    PAID = "paid"
    FULFILLED = "fulfilled"
    CANCELLED = "cancelled"
    REFUNDED = "refunded"


# Orders that count as purchases (the figures, the stage, the CLV fit, segment rules on
# orders and products): all but cancelled and refunded ones.
NOT_COUNTED = (OrderStatus.CANCELLED, OrderStatus.REFUNDED)
# Orders that earn loyalty points: paid or fulfilled (a placed order may never be paid).
EARNING = (OrderStatus.PAID, OrderStatus.FULFILLED)


class OrderQuerySet(models.QuerySet):
    def counted(self) -> "OrderQuerySet":
        """Orders that count as purchases: not cancelled or refunded (``NOT_COUNTED``)."""
        return self.exclude(status__in=NOT_COUNTED)

    def earning(self) -> "OrderQuerySet":
        """Orders that earn loyalty points: paid or fulfilled (``EARNING``)."""
        return self.filter(status__in=EARNING)


class Order(TimeStampedModel):
    Status = OrderStatus
    NOT_COUNTED = NOT_COUNTED
    EARNING = EARNING

    shop = models.ForeignKey(Shop, on_delete=models.PROTECT, related_name="orders")
    external_id = models.CharField(max_length=255)
    customer = models.ForeignKey(Customer, on_delete=models.PROTECT, related_name="orders")
    placed_at = models.DateTimeField()
    status = models.CharField(max_length=16, choices=OrderStatus.choices, default=OrderStatus.PLACED)
    currency = models.CharField(max_length=3)
    subtotal = models.DecimalField(**MONEY, default=ZERO)
    discount_total = models.DecimalField(**MONEY, default=ZERO)
    shipping_total = models.DecimalField(**MONEY, default=ZERO)
    tax_total = models.DecimalField(**MONEY, default=ZERO)
    total = models.DecimalField(**MONEY)
    # The total converted to settings.BASE_CURRENCY at the rate in force when ingested.
    total_base = models.DecimalField(**MONEY)
    # The sum of the order's refunds in base currency, kept by the refunds service: metrics
    # read net revenue from the order row alone instead of joining refunds per chunk.
    refunded_base = models.DecimalField(**MONEY, default=ZERO, db_default=ZERO)
    exchange_rate = models.DecimalField(max_digits=18, decimal_places=8, default=Decimal(1))
    discount_code = models.CharField(max_length=100, blank=True)
    source = models.CharField(max_length=100, blank=True)
    utm_source = models.CharField(max_length=100, blank=True)
    utm_medium = models.CharField(max_length=100, blank=True)
    utm_campaign = models.CharField(max_length=100, blank=True)
    # SHA-256 of the normalised shipping address (``customers.services.addresses``): enough to
    # tell that two orders ship to the same place (a referral guard) without keeping the address.
    shipping_address_key = models.CharField(max_length=64, blank=True, default="", db_default="")
    # SHA-256 of the normalised payload: a replay of the same body is recognised as unchanged.
    payload_hash = models.CharField(max_length=64, blank=True, editable=False)

    objects = OrderQuerySet.as_manager()

    class Meta:
        ordering = ["-placed_at"]
        constraints = [
            models.UniqueConstraint(fields=["shop", "external_id"], name="order_shop_external_id_uniq"),
            models.CheckConstraint(
                condition=Q(subtotal__gte=0)
                & Q(discount_total__gte=0)
                & Q(shipping_total__gte=0)
                & Q(tax_total__gte=0)
                & Q(total__gte=0)
                & Q(total_base__gte=0),
                name="order_money_gte_0",
            ),
            models.CheckConstraint(condition=Q(status__in=OrderStatus.values), name="order_status_valid"),
            models.CheckConstraint(condition=Q(refunded_base__gte=0), name="order_refunded_base_gte_0"),
        ]
        indexes = [
            # Per-customer aggregates and the customer's order history, newest first. The
            # included columns let segment rules sum a customer's orders in a window from
            # the index alone ("spent ≥ 200 in the last 90 days" for the customers in scope).
            models.Index(
                fields=["customer", "placed_at"],
                include=["total_base", "refunded_base", "status"],
                name="order_customer_window_idx",
            ),
            # Admin changelist ordering (-placed_at) and date drill-down.
            models.Index(fields=["placed_at"], name="order_placed_idx"),
            # Admin status filter with its default ordering.
            models.Index(fields=["status", "placed_at"], name="order_status_placed_idx"),
            # Search by a shop's order number, whatever the shop and in any case ("d15594"
            # finds "D15594"): the staff's customer search and the orders list compare
            # UPPER(external_id), as Django's iexact does (migration 0017).
            models.Index(Upper("external_id"), name="order_external_id_upper_idx"),
            # The nightly repair: customers whose orders changed lately.
            models.Index(fields=["updated_at"], name="order_updated_idx"),
        ]

    def __str__(self):
        return f"Order {self.external_id}"


class OrderLine(models.Model):
    order = models.ForeignKey(Order, on_delete=models.CASCADE, related_name="lines")
    product = models.ForeignKey(Product, null=True, blank=True, on_delete=models.SET_NULL, related_name="lines")
    sku = models.CharField(max_length=100, blank=True)
    name = models.CharField(max_length=255)
    quantity = models.PositiveIntegerField()
    unit_price = models.DecimalField(**MONEY)

    class Meta:
        ordering = ["id"]
        constraints = [
            models.CheckConstraint(condition=Q(quantity__gte=1), name="orderline_quantity_gte_1"),
            models.CheckConstraint(condition=Q(unit_price__gte=0), name="orderline_unit_price_gte_0"),
        ]

    def __str__(self):
        return f"{self.quantity} × {self.name}"

    @property
    def line_total(self) -> Decimal:
        return self.unit_price * self.quantity


class Refund(TimeStampedModel):
    order = models.ForeignKey(Order, on_delete=models.CASCADE, related_name="refunds")
    # The shop's reference; a replay of the same refund is recognised by it.
    external_id = models.CharField(max_length=255, blank=True)
    amount = models.DecimalField(**MONEY)
    amount_base = models.DecimalField(**MONEY)
    reason = models.CharField(max_length=255, blank=True)
    refunded_at = models.DateTimeField()

    class Meta:
        ordering = ["-refunded_at"]
        constraints = [
            models.CheckConstraint(condition=Q(amount__gt=0), name="refund_amount_gt_0"),
            models.CheckConstraint(condition=Q(amount_base__gte=0), name="refund_amount_base_gte_0"),
            models.UniqueConstraint(
                fields=["order", "external_id"], condition=~Q(external_id=""), name="refund_order_external_id_uniq"
            ),
        ]
        indexes = [models.Index(fields=["refunded_at"], name="refund_refunded_at_idx")]

    def __str__(self):
        return f"Refund {self.amount} on {self.order_id}"


class Event(TimeStampedModel):
    """Something a customer did in a shop (``cart_abandoned``, ``product_viewed`` …)."""

    shop = models.ForeignKey(Shop, on_delete=models.CASCADE, related_name="events")
    customer = models.ForeignKey(Customer, on_delete=models.CASCADE, related_name="events")
    type = models.CharField(max_length=64)
    payload = models.JSONField(default=dict, blank=True)
    occurred_at = models.DateTimeField()
    # Optional shop reference: a replayed event with the same one is stored once.
    external_id = models.CharField(max_length=255, blank=True)

    class Meta:
        ordering = ["-occurred_at"]
        constraints = [
            models.UniqueConstraint(
                fields=["shop", "external_id"], condition=~Q(external_id=""), name="event_shop_external_id_uniq"
            ),
        ]
        indexes = [
            # Triggers and segment rules: "this customer did TYPE in the last N days".
            models.Index(fields=["customer", "type", "occurred_at"], name="event_customer_type_idx"),
            # Admin ordering and type filter.
            models.Index(fields=["type", "occurred_at"], name="event_type_occurred_idx"),
        ]

    def __str__(self):
        return f"{self.type} by {self.customer_id}"
