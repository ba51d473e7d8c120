"""The customers app's models: commerce data (``commerce``) and what is derived from it
(``lifecycle``: metrics, stages, CLV models, and the signals other apps feed in)."""

from customers.models.commerce import (
    MONEY,
    ZERO,
    ApiKey,
    Customer,
    CustomerIdentity,
    Event,
    ExchangeRate,
    Order,
    OrderLine,
    OrderStatus,
    Product,
    Refund,
    Shop,
    ShopGroup,
    Tag,
    TimeStampedModel,
)
from customers.models.lifecycle import (
    ClvModel,
    CustomerMetrics,
    CustomerSignal,
    LifecycleSettings,
    Stage,
    StageChange,
)

__all__ = [
    "MONEY",
    "ZERO",
    "ApiKey",
    "ClvModel",
    "Customer",
    "CustomerIdentity",
    "CustomerMetrics",
    "CustomerSignal",
    "Event",
    "ExchangeRate",
    "LifecycleSettings",
    "Order",
    "OrderLine",
    "OrderStatus",
    "Product",
    "Refund",
    "Shop",
    "ShopGroup",
    "Stage",
    "StageChange",
    "Tag",
    "TimeStampedModel",
]
