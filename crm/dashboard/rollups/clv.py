"""``ClvBand``: the distribution of customers' predicted 12-month CLV, as it stands."""

from decimal import Decimal

from django.db.models import Case, Count, F, IntegerField, Sum, Value, When

from crm.dashboard.models import ClvBand
from customers.models import CustomerMetrics

# The bands' lower bounds in the base currency; the last has no upper bound. Roughly
# doubling, so a long right tail still reads on one chart.
EDGES = [Decimal(e) for e in (0, 10, 25, 50, 100, 250, 500, 1000, 2500, 5000)]
NO_PREDICTION = -1


def clv_bands_refresh() -> int:
    """One grouped pass over the metrics (a narrow table), replacing every band."""
    band = Case(
        When(clv_predicted__isnull=True, then=Value(NO_PREDICTION)),
        *[When(clv_predicted__lt=float(high), then=Value(i)) for i, high in enumerate(EDGES[1:])],
        default=Value(len(EDGES) - 1),
        output_field=IntegerField(),
    )
    counted = (
        CustomerMetrics.objects.annotate(band=band, shop_id=F("customer__first_seen_shop_id"))
        .values("band", "shop_id")
        .annotate(customers=Count("pk"), total=Sum("clv_predicted", default=0.0))
        .order_by()
    )
    rows = []
    for r in counted:
        i = r["band"]
        rows.append(
            ClvBand(
                shop_id=r["shop_id"],
                low=None if i == NO_PREDICTION else EDGES[i],
                high=EDGES[i + 1] if 0 <= i < len(EDGES) - 1 else None,
                customers=r["customers"],
                total=Decimal(str(round(r["total"] or 0.0, 2))),
            )
        )
    ClvBand.objects.all().delete()
    ClvBand.objects.bulk_create(rows)
    return len(rows)
