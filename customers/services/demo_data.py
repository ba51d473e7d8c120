"""Synthetic shop history for the demo and the benchmarks.

Customers follow the buy-till-you-die story the CLV models assume, so those models have
something real to find:
- each customer buys at their own rate (Gamma-distributed across customers);
- after each purchase they may drop out for good (a Beta-distributed probability);
- each has their own typical spend (Gamma-Gamma);
- November and December sell more; some orders are refunded or cancelled;
- about one in seven customers is a prospect who never buys.
Everything comes from one numpy generator, so a seed (and an end date) gives the same data.
"""

import json
from dataclasses import dataclass
from datetime import UTC, datetime

import numpy as np

from core.db import bulk_writer as bw
from customers.models import (
    Customer,
    CustomerIdentity,
    Event,
    ExchangeRate,
    Order,
    OrderLine,
    Product,
    Refund,
    Shop,
    ShopGroup,
)
from customers.services.refunds import orders_refunded_backfill

DAY = 86_400
HISTORY_DAYS = 3 * 365
MAX_ORDERS = 60
SHOPS = (("demo-web", "Demo Web Store", "USD", "1.00000000"), ("demo-eu", "Demo EU Store", "EUR", "1.08000000"))
CATEGORIES = {
    "Mugs": (12, 24),
    "Tea": (8, 30),
    "Coffee": (10, 40),
    "Kitchen": (15, 90),
    "Gifts": (20, 120),
    "Accessories": (5, 25),
}
FIRST = "Ann Ben Cara Dan Eva Finn Gia Hugo Ines Jon Kim Leo Mia Nils Olga Paul Rosa Sam Tara Ugo Vera Will Yara Zoe"
LAST = "Lee Smith Garcia Müller Rossi Dubois Silva Kowalski Jensen Novak Tanaka Brown Costa Weber Moreau Young"
COUNTRIES = (["US", "GB", "DE", "FR", "ES", "IT", "NL", "CA"], [0.45, 0.1, 0.12, 0.08, 0.07, 0.06, 0.06, 0.06])
SOURCES = ["google", "instagram", "newsletter", "facebook", "direct", "tiktok"]
# Relative demand by month (Jan … Dec): the holiday season sells more.
SEASON = np.array([0.8, 0.75, 0.85, 0.9, 0.95, 0.9, 0.85, 0.9, 0.95, 1.0, 1.35, 1.6])


# How people write a phone number: the staff search must find each of them by its digits.
PHONE_FORMATS = ("+1 {a} {b} {c}", "({a}) {b}-{c}", "{a}.{b}.{c}", "001-{a}-{b}-{c}")


def demo_phone(customer_id: int) -> str:
    """A made-up ten-digit number for a customer, in one of ``PHONE_FORMATS``: from the id
    alone, so adding phones drew nothing from the generator and left the rest of the data
    as it was."""
    area = 200 + customer_id * 7_919 % 800
    line = customer_id * 104_729 % 10_000_000
    shape = PHONE_FORMATS[customer_id % len(PHONE_FORMATS)]
    return shape.format(a=area, b=f"{line // 10_000:03d}", c=f"{line % 10_000:04d}")


# Every column of the order table, in the order the COPY rows give them.
ORDER_COLUMNS = [
    "id", "shop_id", "external_id", "customer_id", "placed_at", "status", "currency", "subtotal",
    "discount_total", "shipping_total", "tax_total", "total", "total_base", "exchange_rate", "discount_code",
    "source", "utm_source", "utm_medium", "utm_campaign", "payload_hash", "created_at", "updated_at",
]  # fmt: skip


@dataclass
class SeedStats:
    customers: int = 0
    orders: int = 0
    lines: int = 0
    refunds: int = 0
    events: int = 0


def _catalogue(rng, shops: list[Shop]) -> tuple[dict[int, np.ndarray], dict[int, tuple[str, str]]]:
    """Ten products per category per shop: product ids per shop, and (sku, name) by id."""
    product_id = bw.next_id(Product)
    rows, out, labels = [], {}, {}
    for shop, (_, _, currency, _) in zip(shops, SHOPS, strict=True):
        ids = []
        for category, (low, high) in CATEGORIES.items():
            for n in range(10):
                price = int(rng.integers(low * 100, high * 100)) // 50 * 50 + 99
                rows.append(
                    (
                        product_id,
                        shop.pk,
                        f"{category[:3].upper()}-{n + 1:03d}",
                        f"{category} {n + 1}",
                        category,
                        f"{price // 100}.{price % 100:02d}",
                        currency,
                        *_now_pair(),
                    )
                )
                ids.append(product_id)
                labels[product_id] = rows[-1][2], rows[-1][3]
                product_id += 1
        out[shop.pk] = np.array(ids)
    bw.write_rows(
        Product, ["id", "shop_id", "sku", "name", "category", "price", "currency", "created_at", "updated_at"], rows
    )
    return out, labels


def _now_pair() -> tuple[str, str]:
    now = bw.timestamps(np.array([int(datetime.now(UTC).timestamp())]))[0]
    return now, now


def ensure_shops_and_rates() -> list[Shop]:
    """The demo's two shops, in one shop group: one merchant's two channels sharing customers'
    profiles, points and figures, so a demo key sees each customer's stage and CLV (keys of
    shops in separate groups see no person-wide figure: docs/security.md)."""
    group, _ = ShopGroup.objects.get_or_create(name="Demo brand")
    shops = []
    for slug, name, currency, rate in SHOPS:
        shop, _ = Shop.objects.get_or_create(slug=slug, defaults={"name": name, "group": group})
        shops.append(shop)
        if currency != "USD":
            ExchangeRate.objects.update_or_create(currency=currency, defaults={"rate_to_base": rate})
    ExchangeRate.objects.get_or_create(currency="GBP", defaults={"rate_to_base": "1.27000000"})
    return shops


def simulate_chunk(rng, n: int, start: int, end: int):
    """Purchase days and spend for ``n`` customers: (first_seen, order owner idx, order time, order cents)."""
    span = (end - start) / DAY
    # Customer arrivals grow over time: more recent customers than old ones.
    arrival = span * (1 - rng.random(n) ** 1.6)
    buyer = rng.random(n) > 0.14
    rate = rng.gamma(1.0, 1 / 11, n)  # purchases per day while alive, before seasonal thinning
    dropout = rng.beta(1.0, 7.0, n)  # chance of leaving after each purchase
    spend = rng.gamma(4.0, 16.0, n)  # typical order value in dollars
    gaps = rng.exponential(1.0, (n, MAX_ORDERS)) / rate[:, None]
    gaps[:, 0] = 0.0
    days = arrival[:, None] + np.cumsum(gaps, axis=1)
    purchases_alive = rng.geometric(dropout)  # purchases made before dropping out (≥ 1)
    k = np.arange(MAX_ORDERS)[None, :]
    valid = buyer[:, None] & (k < purchases_alive[:, None]) & (days < span)
    # Seasonality by thinning: keep each purchase with its month's relative demand.
    seconds = start + days * DAY + rng.normal(14 * 3600, 3 * 3600, days.shape).clip(0, DAY - 1)
    # A purchase on the last day at a time of day still to come moves to the day before: no
    # order is dated after ``end`` (the moment of seeding, by default).
    seconds = np.where(seconds >= end, seconds - DAY, seconds)
    month = (seconds.astype("datetime64[s]").astype("datetime64[M]").astype(int) % 12).clip(0, 11)
    valid &= rng.random(days.shape) < SEASON[month] / SEASON.max()
    valid[:, 0] |= buyer & (arrival < span)  # a buyer's first purchase is always kept
    owner, _ = np.nonzero(valid)
    order_seconds = seconds[valid].astype(np.int64)
    order_cents = (rng.gamma(6.0, 1.0, owner.size) / 6.0 * spend[owner] * 100).astype(np.int64) + 500
    first_seen = (start + arrival * DAY).astype(np.int64)
    return first_seen, owner, order_seconds, order_cents


def seed(*, customers: int, rng_seed: int, end: datetime, chunk: int = 20_000, progress=None) -> SeedStats:
    """Write the demo shops' history: every order, refund and event before ``end``."""
    rng = np.random.default_rng(rng_seed)
    shops = ensure_shops_and_rates()
    catalogue, labels = _catalogue(rng, shops)
    end_s = int(end.timestamp())
    start_s = end_s - HISTORY_DAYS * DAY
    first_names, last_names = FIRST.split(), LAST.split()
    stats = SeedStats()
    ids = {m: bw.next_id(m) for m in (Customer, CustomerIdentity, Order, OrderLine, Refund, Event)}
    done = 0
    while done < customers:
        n = min(chunk, customers - done)
        first_seen, owner, order_s, order_cents = simulate_chunk(rng, n, start_s, end_s)
        cust_ids = np.arange(ids[Customer], ids[Customer] + n)
        home = rng.integers(0, len(shops), n)
        fn = rng.integers(0, len(first_names), n)
        ln = rng.integers(0, len(last_names), n)
        country = rng.choice(COUNTRIES[0], n, p=COUNTRIES[1])
        consent = rng.random(n) < 0.6
        source = rng.choice(SOURCES, n)
        birth = rng.integers(-5_000, 13_500, n)  # days since 1970: born 1956 to 2006
        seen_ts = bw.timestamps(first_seen)
        now_ts = _now_pair()[0]
        bw.write_rows(
            Customer,
            [
                "id",
                "email",
                "email_normalized",
                "first_name",
                "last_name",
                "phone",
                "country",
                "birthday",
                "marketing_consent",
                "marketing_consent_at",
                "first_seen_at",
                "first_seen_shop_id",
                "source",
                "utm_source",
                "utm_medium",
                "utm_campaign",
                "orders_count",
                "net_revenue",
                "avg_order_value",
                "created_at",
                "updated_at",
            ],
            (
                (
                    int(cid),
                    email,
                    email,
                    first_names[f],
                    last_names[la],
                    demo_phone(cid),
                    c,
                    str(np.datetime64(int(b), "D")),
                    bool(ok),
                    seen if ok else None,
                    seen,
                    shops[h].pk,
                    s,
                    s,
                    "cpc" if s != "direct" else "",
                    "",
                    0,
                    "0.00",
                    "0.00",
                    seen,
                    now_ts,
                )
                for cid, f, la, c, ok, seen, h, s, b, email in zip(
                    cust_ids.tolist(),
                    fn.tolist(),
                    ln.tolist(),
                    country.tolist(),
                    consent.tolist(),
                    seen_ts,
                    home.tolist(),
                    source.tolist(),
                    birth.tolist(),
                    [
                        f"{first_names[f].lower()}.{last_names[la].lower()}.{cid}@example.com"
                        for f, la, cid in zip(fn.tolist(), ln.tolist(), cust_ids.tolist(), strict=True)
                    ],
                    strict=True,
                )
            ),
        )
        # Orders: most in the home shop, one in ten in the other one.
        order_shop = (
            np.where(rng.random(owner.size) < 0.9, home[owner], 1 - home[owner]) if len(shops) == 2 else home[owner]
        )
        ident_pairs = np.unique(np.stack([owner, order_shop], axis=1), axis=0) if owner.size else np.empty((0, 2), int)
        home_pairs = np.stack([np.arange(n), home], axis=1)
        pairs = np.unique(np.concatenate([home_pairs, ident_pairs]), axis=0)
        # Each shop that knows a customer sent the same profile (its identity's copy).
        profiles = [
            (
                f"{first_names[f].lower()}.{last_names[la].lower()}.{cid}@example.com",
                *(first_names[f], last_names[la], demo_phone(cid), c, str(np.datetime64(int(b), "D"))),
                *(ok, seen if ok else None, seen, s, s, "cpc" if s != "direct" else "", ""),
            )
            for cid, f, la, c, ok, seen, s, b in zip(
                cust_ids.tolist(),
                fn.tolist(),
                ln.tolist(),
                country.tolist(),
                consent.tolist(),
                seen_ts,
                source.tolist(),
                birth.tolist(),
                strict=True,
            )
        ]
        bw.write_rows(
            CustomerIdentity,
            ["id", "shop_id", "customer_id", "external_id", "created_at", "updated_at", "email", "first_name"]
            + ["last_name", "phone", "country", "birthday", "marketing_consent", "marketing_consent_at"]
            + ["first_seen_at", "source", "utm_source", "utm_medium", "utm_campaign"],
            (
                (ids[CustomerIdentity] + i, shops[s].pk, int(cust_ids[c]), f"c-{int(cust_ids[c])}", now_ts, now_ts)
                + profiles[c]
                for i, (c, s) in enumerate(pairs.tolist())
            ),
        )
        stats.orders += _write_orders(
            rng, ids, shops, catalogue, labels, cust_ids, owner, order_shop, order_s, order_cents, end_s, stats
        )
        ids[Customer] += n
        ids[CustomerIdentity] += len(pairs)
        stats.events += _write_events(rng, ids, shops, cust_ids, home, first_seen, end_s)
        stats.customers += n
        done += n
        if progress:
            progress(n)
    orders_refunded_backfill()  # once, after every refund is written
    bw.reset_sequences(Customer, CustomerIdentity, Order, OrderLine, Refund, Event, Product)
    return stats


def _write_orders(
    rng, ids, shops, catalogue, labels, cust_ids, owner, order_shop, order_s, order_cents, end_s, stats
) -> int:
    m = owner.size
    if m == 0:
        return 0
    order_ids = np.arange(ids[Order], ids[Order] + m)
    # Lines: 1 to 4 per order, each a product of the order's shop; quantities mostly 1.
    n_lines = 1 + rng.binomial(3, 0.3, m)
    line_order = np.repeat(np.arange(m), n_lines)
    weights = rng.dirichlet(np.ones(4), m)
    share = weights[line_order, _rank_within(n_lines)]
    share = share / np.bincount(line_order, weights=share)[line_order]
    quantity = np.where(rng.random(line_order.size) < 0.85, 1, 2)
    unit_cents = np.maximum((order_cents[line_order] * share / quantity).astype(np.int64), 99)
    subtotal = np.bincount(line_order, weights=unit_cents * quantity, minlength=m).astype(np.int64)
    discount = np.where(rng.random(m) < 0.1, subtotal // 10, 0)
    shipping = np.where(subtotal < 5000, 499, 0)
    total = subtotal - discount + shipping
    is_eu = order_shop == 1
    rate = np.where(is_eu, 1.08, 1.0)
    total_base = np.rint(total * rate).astype(np.int64)
    age_days = (end_s - order_s) / DAY
    roll = rng.random(m)
    status = np.where(
        age_days < 3, "paid", np.where(roll < 0.02, "cancelled", np.where(roll < 0.05, "refunded", "fulfilled"))
    )
    placed = bw.timestamps(order_s)
    currency = np.where(is_eu, "EUR", "USD")
    m_sub, m_disc, m_ship, m_tot, m_base = (bw.money(a) for a in (subtotal, discount, shipping, total, total_base))
    bw.write_rows(
        Order,
        ORDER_COLUMNS,
        (
            (
                oid,
                shops[s].pk,
                f"D{oid}",
                cid,
                p,
                st,
                cur,
                a,
                b,
                c,
                "0.00",
                d,
                e,
                "1.08" if s == 1 else "1",
                "WELCOME10" if b != "0.00" else "",
                "",
                "",
                "",
                "",
                "",
                p,
                p,
            )
            for oid, s, cid, p, st, cur, a, b, c, d, e in zip(
                order_ids.tolist(),
                order_shop.tolist(),
                cust_ids[owner].tolist(),
                placed,
                status.tolist(),
                currency.tolist(),
                m_sub,
                m_disc,
                m_ship,
                m_tot,
                m_base,
                strict=True,
            )
        ),
    )
    # Line products: a random product of the order's shop.
    product_idx = rng.integers(0, 60, line_order.size)
    line_shop = order_shop[line_order]
    product_ids = np.where(line_shop == 0, catalogue[shops[0].pk][product_idx], catalogue[shops[-1].pk][product_idx])
    bw.write_rows(
        OrderLine,
        ["id", "order_id", "product_id", "sku", "name", "quantity", "unit_price"],
        (
            (ids[OrderLine] + i, int(order_ids[o]), pid, *labels[pid], q, u)
            for i, (o, pid, q, u) in enumerate(
                zip(line_order.tolist(), product_ids.tolist(), quantity.tolist(), bw.money(unit_cents), strict=True)
            )
        ),
    )
    # Refunds: every "refunded" order in full, and one in fifty fulfilled orders in part.
    partial = (status == "fulfilled") & (rng.random(m) < 0.02)
    refund_idx = np.nonzero((status == "refunded") | partial)[0]
    refund_cents = np.where(partial[refund_idx], total[refund_idx] // 3, total[refund_idx])
    refund_base = np.rint(refund_cents * rate[refund_idx]).astype(np.int64)
    refund_at = bw.timestamps(np.minimum(order_s[refund_idx] + 7 * DAY, end_s))
    bw.write_rows(
        Refund,
        ["id", "order_id", "external_id", "amount", "amount_base", "reason", "refunded_at", "created_at", "updated_at"],
        (
            (ids[Refund] + i, int(order_ids[o]), "", a, b, "Returned", t, t, t)
            for i, (o, a, b, t) in enumerate(
                zip(refund_idx.tolist(), bw.money(refund_cents), bw.money(refund_base), refund_at, strict=True)
            )
        ),
    )
    ids[Order] += m
    ids[OrderLine] += line_order.size
    ids[Refund] += refund_idx.size
    stats.lines += int(line_order.size)
    stats.refunds += int(refund_idx.size)
    return m


def _rank_within(counts: np.ndarray) -> np.ndarray:
    """0, 1, … within each group of a run-length encoded array: [2, 1] → [0, 1, 0]."""
    starts = np.repeat(np.cumsum(counts) - counts, counts)
    return np.arange(counts.sum()) - starts


def _write_events(rng, ids, shops, cust_ids, home, first_seen, end_s) -> int:
    n = cust_ids.size
    who = np.nonzero(rng.random(n) < 0.5)[0]
    kinds = rng.choice(["product_viewed", "cart_abandoned", "newsletter_signup"], who.size, p=[0.6, 0.3, 0.1])
    when = first_seen[who] + (rng.random(who.size) * (end_s - first_seen[who])).astype(np.int64)
    stamps = bw.timestamps(when)
    payload = json.dumps({"demo": True})
    bw.write_rows(
        Event,
        ["id", "shop_id", "customer_id", "type", "payload", "occurred_at", "external_id", "created_at", "updated_at"],
        (
            (ids[Event] + i, shops[h].pk, int(cust_ids[c]), k, payload, t, "", t, t)
            for i, (c, h, k, t) in enumerate(zip(who.tolist(), home[who].tolist(), kinds.tolist(), stamps, strict=True))
        ),
    )
    ids[Event] += who.size
    return int(who.size)
