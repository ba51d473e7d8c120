from datetime import timedelta
from decimal import Decimal

import factory
from django.db.models import F
from django.utils import timezone

from customers.models import ClvModel, Customer, CustomerIdentity, ExchangeRate, Order, OrderLine, Refund, Shop


class ShopFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Shop
        django_get_or_create = ("slug",)

    slug = factory.Sequence(lambda n: f"shop-{n}")
    name = factory.LazyAttribute(lambda o: o.slug.title())


class CustomerFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Customer

    email = factory.Sequence(lambda n: f"person{n}@example.com")
    email_normalized = factory.LazyAttribute(lambda o: o.email.lower())
    first_name = factory.Faker("first_name")
    last_name = factory.Faker("last_name")


class IdentityFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = CustomerIdentity

    shop = factory.SubFactory(ShopFactory)
    customer = factory.SubFactory(CustomerFactory)
    external_id = factory.Sequence(lambda n: f"c-{n}")


class OrderFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Order

    shop = factory.SubFactory(ShopFactory)
    customer = factory.SubFactory(CustomerFactory)
    external_id = factory.Sequence(lambda n: f"o-{n}")
    placed_at = factory.LazyFunction(timezone.now)
    status = Order.Status.PAID
    currency = "USD"
    total = Decimal("10.00")
    subtotal = factory.LazyAttribute(lambda o: o.total)
    total_base = factory.LazyAttribute(lambda o: o.total)


class OrderLineFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = OrderLine

    order = factory.SubFactory(OrderFactory)
    sku = "SKU-1"
    name = "Mug"
    quantity = 1
    unit_price = Decimal("10.00")


class RefundFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Refund
        skip_postgeneration_save = True  # the hook updates the order, not the refund

    order = factory.SubFactory(OrderFactory)
    amount = Decimal("1.00")
    amount_base = factory.LazyAttribute(lambda o: o.amount)
    refunded_at = factory.LazyFunction(timezone.now)

    @factory.post_generation
    def add_to_order(obj, create, extracted, **kwargs):
        """Keep the order's refunded_base, as the refunds service does."""
        if create:
            Order.objects.filter(pk=obj.order_id).update(refunded_base=F("refunded_base") + obj.amount_base)


class ExchangeRateFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = ExchangeRate
        django_get_or_create = ("currency",)

    currency = "EUR"
    rate_to_base = Decimal("1.10")


def customer_with_orders(*ages: int, total="50.00", **order_fields) -> Customer:
    """A customer with one order placed each of ``ages`` days ago."""
    customer = CustomerFactory()
    for age in ages:
        OrderFactory(
            customer=customer, placed_at=timezone.now() - timedelta(days=age), total=Decimal(total), **order_fields
        )
    return customer


def fitted_model(**params) -> ClvModel:
    """A fitted CLV model with plausible parameters (``params`` override them)."""
    values = {"r": 0.5, "alpha": 20.0, "a": 0.8, "b": 2.5, "p": 6.0, "q": 3.5, "v": 15.0} | params
    return ClvModel.objects.create(
        status=ClvModel.Status.FITTED,
        observation_end=timezone.localdate(),
        time_unit="days",
        n_customers=1000,
        n_repeat_buyers=500,
        rfm_breakpoints={"recency": [-300, -200, -100, -30], "frequency": [1, 1, 2, 3], "monetary": [50, 80, 150, 300]},
        **values,
    )
