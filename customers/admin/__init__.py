"""The admin of customers and commerce: shops, keys, customers, orders (``commerce``), and
the lifecycle settings, stages and CLV models (``lifecycle``)."""

from customers.admin import commerce, consent, lifecycle  # noqa: F401 (each registers its models)
