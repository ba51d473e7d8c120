"""What the platforms' own order exports call things: ``import_orders --preset NAME``.

A preset names, for each field of the import, the export's column (the first of the
candidates that the file's header has, so an export whose wording changed between
versions still reads), the export's date formats, and its order statuses in the CRM's
words. ``--map``, ``--date-format`` and ``--status`` still override any of it.

Which exports they read (docs/import.md has the steps to make them):
- ``shopify``: Shopify admin → Orders → Export → "CSV for Excel, Numbers, or other
  spreadsheet programs": one row per line item; order-level columns on the first row.
- ``woocommerce``: WooCommerce has no order CSV export of its own; this reads the free
  "Advanced Order Export For WooCommerce" plugin's default CSV (WooCommerce → Export
  Orders, products as rows), and the older "Order Export" wording (Order ID, Billing
  Email, Item SKU …) where it differs.
"""

from dataclasses import dataclass, field


@dataclass(frozen=True)
class Preset:
    name: str
    export: str
    # field -> the export's column names, first found wins
    columns: dict[str, tuple[str, ...]]
    date_formats: tuple[str, ...]
    # the export's status (normalised: ``status_key``) -> the CRM's status
    statuses: dict[str, str] = field(default_factory=dict)


def status_key(value: str) -> str:
    """A status as compared: case, spaces, underscores and WooCommerce's ``wc-`` prefix ignored
    ("Pending payment", "wc-pending-payment" and "pending_payment" are one)."""
    key = "-".join(value.strip().lower().replace("_", " ").replace("-", " ").split())
    return key.removeprefix("wc-")


SHOPIFY = Preset(
    name="shopify",
    export="Shopify admin → Orders → Export (CSV for Excel, Numbers, or other spreadsheet programs)",
    columns={
        "order_id": ("Name",),
        "placed_at": ("Created at",),
        "total": ("Total",),
        "currency": ("Currency",),
        "status": ("Financial Status",),
        "fulfillment_status": ("Fulfillment Status",),
        "cancelled_at": ("Cancelled at",),
        "refunded": ("Refunded Amount",),
        "email": ("Email",),
        "full_name": ("Billing Name", "Shipping Name"),
        "phone": ("Billing Phone", "Phone"),
        "country": ("Billing Country",),
        "accepts_marketing": ("Accepts Marketing",),
        "subtotal": ("Subtotal",),
        "discount": ("Discount Amount",),
        "shipping": ("Shipping",),
        "tax": ("Taxes",),
        "discount_code": ("Discount Code",),
        "sku": ("Lineitem sku",),
        "name": ("Lineitem name",),
        "quantity": ("Lineitem quantity",),
        "unit_price": ("Lineitem price",),
    },
    date_formats=("%Y-%m-%d %H:%M:%S %z", "%Y-%m-%d %H:%M %z"),
    statuses={
        "pending": "placed",
        "authorized": "placed",
        "partially-paid": "placed",
        "paid": "paid",
        "partially-refunded": "paid",  # and a refund of the Refunded Amount
        "refunded": "refunded",
        "voided": "cancelled",  # the payment was never taken: not revenue
        "expired": "cancelled",
    },
)

WOOCOMMERCE = Preset(
    name="woocommerce",
    export="Advanced Order Export For WooCommerce, default CSV with products as rows",
    columns={
        "order_id": ("Order Number", "Order ID"),
        "placed_at": ("Order Date",),
        "total": ("Order Total Amount",),
        "currency": ("Currency", "Order Currency"),
        "status": ("Order Status",),
        "refunded": ("Order Refund Amount",),
        "email": ("Email (Billing)", "Billing Email", "Customer Email", "Customer User Email"),
        "first_name": ("First Name (Billing)", "Billing First Name"),
        "last_name": ("Last Name (Billing)", "Billing Last Name"),
        "full_name": ("Full Name (Billing)",),
        "phone": ("Phone (Billing)", "Billing Phone"),
        "country": ("Country Code (Billing)", "Billing Country"),
        "subtotal": ("Order Subtotal Amount",),
        "discount": ("Cart Discount Amount",),
        "shipping": ("Order Shipping Amount",),
        "tax": ("Order Total Tax Amount",),
        "discount_code": ("Coupon Code",),
        "sku": ("SKU", "Item SKU"),
        "name": ("Item Name",),
        "quantity": ("Quantity", "Quantity (- Refund)"),
        "unit_price": ("Item Cost",),
    },
    date_formats=("%Y-%m-%d %H:%M:%S", "%Y-%m-%d %H:%M", "%Y-%m-%d", "%d/%m/%Y %H:%M", "%d.%m.%Y %H:%M"),
    statuses={
        "pending": "placed",
        "pending-payment": "placed",
        "on-hold": "placed",
        "processing": "paid",
        "completed": "fulfilled",
        "cancelled": "cancelled",
        "failed": "cancelled",
        "checkout-draft": "cancelled",  # a checkout never finished: kept, not counted
        "draft": "cancelled",
        "refunded": "refunded",
    },
)

PRESETS = {preset.name: preset for preset in (SHOPIFY, WOOCOMMERCE)}
