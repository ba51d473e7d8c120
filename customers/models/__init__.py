"""The customers app's models: commerce data (``commerce``) and what is derived from it
(``lifecycle``: metrics, stages, CLV models, and the signals other apps feed in), and
the outbox of follow-up work (``pending``)."""

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
    ShopTag,
    Tag,
    TimeStampedModel,
)
from customers.models.consent import ConsentEvent, ConsentSource
from customers.models.derived import (
    ClvModel,
    CustomerMetrics,
    CustomerSignal,
    LifecycleSettings,
    Stage,
    StageChange,
)
from customers.models.erased import ErasedEmail
from customers.models.merges import CustomerMerge
from customers.models.pending import PendingUpdate

__all__ = [
    "MONEY",
    "ZERO",
    "ApiKey",
    "ClvModel",
    "ConsentEvent",
    "ConsentSource",
    "Customer",
    "CustomerIdentity",
    "CustomerMerge",
    "CustomerMetrics",
    "CustomerSignal",
    "ErasedEmail",
    "Event",
    "ExchangeRate",
    "LifecycleSettings",
    "Order",
    "OrderLine",
    "OrderStatus",
    "PendingUpdate",
    "Product",
    "Refund",
    "Shop",
    "ShopGroup",
    "Stage",
    "StageChange",
    "ShopTag",
    "Tag",
    "TimeStampedModel",
]
