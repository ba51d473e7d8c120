"""Template filters for figures as people read them (``core.figures``):
``{{ amount|money }}`` in the base currency, ``{{ amount|money:order.currency }}``,
``{{ point_value|unit_money }}`` (every decimal it has),
``{{ share|percent }}``, ``{{ n|days }}`` and ``{{ n|count }}`` (thousands separators)."""

from django import template
from django.conf import settings

from core.figures import count_text, days_text, money_text, percent_text, unit_money_text

register = template.Library()


@register.filter
def money(amount, currency=None):
    return money_text(amount, currency or settings.BASE_CURRENCY)


@register.filter
def unit_money(amount, currency=None):
    return unit_money_text(amount, currency or settings.BASE_CURRENCY)


@register.filter
def percent(share):
    return percent_text(share)


@register.filter
def days(n):
    return days_text(n)


@register.filter
def count(n):
    return count_text(n)
