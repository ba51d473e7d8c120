"""The hook through which other apps tell the lifecycle about promoters and detractors.

Support (NPS, CSAT, reviews) and loyalty (referrals) call ``signal_record``; the recompute
reads the signals of the last ``LifecycleSettings.signal_days`` days: a promoter signal
makes an active customer an advocate, a detractor signal puts a customer at risk. This app
imports none of those apps; they import this function.
"""

from datetime import datetime

from customers.models import CustomerSignal

PROMOTER = CustomerSignal.Kind.PROMOTER
DETRACTOR = CustomerSignal.Kind.DETRACTOR


def signal_record(
    *, customer_id: int, kind: str, source: str, occurred_at: datetime, source_id: str = "", detail: str = ""
) -> CustomerSignal:
    """Record a signal. With a ``source_id`` it is recorded once, however often it is sent."""
    if kind not in CustomerSignal.Kind.values:
        raise ValueError(f"kind must be one of {', '.join(CustomerSignal.Kind.values)}, not {kind!r}")
    fields = {"customer_id": customer_id, "occurred_at": occurred_at, "detail": detail[:200]}
    if source_id:
        signal, _ = CustomerSignal.objects.get_or_create(source=source, source_id=source_id, kind=kind, defaults=fields)
        return signal
    return CustomerSignal.objects.create(source=source, kind=kind, **fields)


def signals_withdraw(*, source: str, source_id: str) -> int:
    """Forget what a row said (a review whose rating changed): its signals, of any kind.
    Returns how many were removed."""
    deleted, _ = CustomerSignal.objects.filter(source=source, source_id=source_id).delete()
    return deleted
