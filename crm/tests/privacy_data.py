"""A customer with a row in every model that can hold their data, filled with recognisable
personal data: for the export and erasure tests. Built from the personal-data marks, so a
new model or field is covered without a change here."""

from datetime import UTC, date, datetime
from decimal import Decimal

from django.core.files.base import ContentFile
from django.db import models

from crm.privacy.marks import all_marks, customer_models, model_of
from crm.webhooks.models import OutboundDelivery
from customers.models import Customer, CustomerIdentity, Shop
from customers.selectors import customer_refs

EMAIL = "Ada.Secret@Example.com"
NAME = "Lovelace-Secret"
PHONE = "+44 20 7946 0999"
T0 = datetime(2026, 3, 1, 9, 0, tzinfo=UTC)
# What must be gone everywhere after erasure (the email as stored, and lower-cased).
SECRETS = (EMAIL, EMAIL.lower(), NAME, "7946 0999")


def personal_value(field: models.Field):
    """Recognisable personal data of the field's type."""
    if isinstance(field, models.EmailField) or field.name in ("email", "to_email", "from_email", "address", "to"):
        return EMAIL.lower() if field.name in ("email_normalized", "address", "from_email") else EMAIL
    if "phone" in field.name:
        return PHONE
    if isinstance(field, models.JSONField):
        return {"note": f"{NAME} wrote from {EMAIL}"}
    if isinstance(field, models.BinaryField):
        return f"From: {NAME} <{EMAIL}>\r\n\r\nHello".encode()
    if isinstance(field, models.DateField) and not isinstance(field, models.DateTimeField):
        return date(1815, 12, 10)
    if isinstance(field, models.CharField | models.TextField):
        value = f"{NAME} {EMAIL}"
        return value[: field.max_length] if field.max_length and field.max_length < len(value) else value
    raise TypeError(field)


def plain_value(field: models.Field):
    """Something valid that is nobody's data, for a required field."""
    if field.choices:
        return field.choices[0][0]
    if isinstance(field, models.JSONField):
        return {}
    if isinstance(field, models.BinaryField):
        return b""
    if isinstance(field, models.BooleanField):
        return False
    if isinstance(field, models.DateTimeField):
        return T0
    if isinstance(field, models.DateField):
        return T0.date()
    if isinstance(field, models.DurationField):
        return None
    if isinstance(field, models.DecimalField):
        return Decimal(1)
    if isinstance(field, models.IntegerField | models.FloatField):
        return 1
    if isinstance(field, models.CharField | models.TextField):
        return f"x{id(field) % 10_000}"[: field.max_length or 10]
    raise TypeError(field)


class Story:
    """Builds one row of each model, linked to ``customer`` (and its shop, its user)."""

    def __init__(self, customer: Customer, shop: Shop, user):
        self.customer, self.shop, self.user = customer, shop, user
        self.made: dict[type, models.Model] = {Customer: customer, Shop: shop}

    def instance(self, model: type[models.Model], fresh: bool = False) -> models.Model:
        if model is type(self.user):
            return self.user
        if model._meta.label == "customers.ShopGroup":
            return self.shop.group
        if model in self.made and not fresh:
            return self.made[model]
        marks = all_marks().get(model._meta.label)
        values = {}
        files = {}
        for field in model._meta.concrete_fields:
            if (field.primary_key and not field.is_relation) or getattr(field, "generated", False):
                continue
            if field.is_relation:
                leads_to_customer = marks and field.name in {p.split("__")[0] for p in marks.customer_paths}
                if field.null and not leads_to_customer:
                    continue
                if field.related_model is Customer and self.customer in values.values():
                    # A second person (a referral's other side): nobody's secrets.
                    values[field.name] = Customer.objects.create(email="friend@example.org")
                    continue
                fresh = field.one_to_one and field.related_model is not Customer
                values[field.name] = self.instance(field.related_model, fresh=fresh)
            elif marks and field.name in marks.erase:
                if isinstance(field, models.FileField):
                    files[field.name] = ContentFile(f"{NAME}'s file".encode(), name="passport.txt")
                else:
                    values[field.name] = personal_value(field)
            elif field.has_default() or field.null or field.blank or getattr(field, "auto_now_add", False):
                continue
            else:
                values[field.name] = plain_value(field)
        row = model(**values)
        for name, content in files.items():
            getattr(row, name).save(content.name, content, save=False)
        row.save()
        if not fresh:
            self.made[model] = row
        return row


def a_story(customer: Customer, shop: Shop, user) -> Story:
    """The customer, with their shop identity and one row in every model that leads to them
    or holds their data without a link (found by what it contains)."""
    story = Story(customer, shop, user)
    story.made[CustomerIdentity] = CustomerIdentity.objects.create(
        shop=shop, customer=customer, external_id="shop-id-1", email=EMAIL, first_name=NAME, phone=PHONE
    )
    for model, _ in customer_models():
        story.instance(model)
    for label in ("crm.WebhookDelivery", "crm.IdempotencyRecord", "messaging.Suppression", "crm.OutboundDelivery"):
        story.instance(model_of(all_marks()[label]))
    # What was sent to the shop's endpoint about them (the ticket's subject names them).
    ref = customer_refs(shop=shop, customer_ids=[customer.pk])[customer.pk]
    OutboundDelivery.objects.update(payload={"data": {"customer": {"id": ref}, "ticket": {"subject": NAME}}})
    return story
