"""The held-out check: does a customer's next order contain what we would have recommended?

Per shop: each customer's last counted order is hidden; neighbours and popularity are built
from every other order (``scoring.similarity``, ``scoring.popularity``, as the nightly build
does), and each customer with an earlier order gets a list made from their history before
the hidden one, as of its time (``scoring.recommend``, as the selectors do; every product
counts as offerable, since today's stock says nothing of the past). A hit at k: one of the
first k products is in the hidden order. The baseline is the shop's most popular products
the customer has not bought.

Other customers' orders after a hidden one stay in the training data (the usual
leave-last-out simplification): the neighbours know a little of the future, the customer's
own list never does.
"""

import time
from dataclasses import dataclass

import numpy as np
from scipy import sparse

from campaigns.recommendations import scoring
from campaigns.recommendations.build import ShopLines, shop_lines

BATCH = 100_000  # customers scored at once


@dataclass(frozen=True)
class HitRate:
    customers: int  # evaluated: with an earlier order and a hidden one with known products
    hit_at_5: float
    hit_at_10: float
    popular_hit_at_5: float
    popular_hit_at_10: float
    seconds: float


def _candidates(lines: ShopLines, purchases: scoring.Purchases, customers: int, now_us: int) -> scoring.Candidates:
    n = len(lines.product_ids)
    matrix = purchases.matrix((customers, n), now_us)
    near = scoring.similarity(matrix)
    popular = scoring.popularity(matrix, lines.category)
    score = (scoring.POPULAR + 1 - (popular.rank + 1)) / (scoring.POPULAR + 2)
    top = popular.shop_rank >= 0
    shop_score = (scoring.POPULAR + 1 - (popular.shop_rank[top] + 1)) / (scoring.POPULAR + 2)
    groups = int(lines.category.max(initial=0)) + 1
    return scoring.Candidates(
        neighbours=sparse.csr_matrix((near.score, (near.row, near.col)), shape=(n, n)),
        category_popular=sparse.csr_matrix((score, (popular.category, popular.product)), shape=(groups, n)),
        shop_popular=sparse.csr_matrix(
            (shop_score, (np.zeros(top.sum(), dtype=np.int64), popular.product[top])), shape=(1, n)
        ),
        offerable=np.ones(n, dtype=bool),
        replenish_days=lines.replenish_days,
        category=lines.category,
        shop=np.zeros(n, dtype=np.int64),
    )


def hit_rate(lines: ShopLines, *, batch: int = BATCH) -> HitRate:
    """Hit rate at 5 and 10 of the recommendations and of "most popular", on these lines."""
    start = time.perf_counter()
    _, row = np.unique(lines.customer, return_inverse=True)
    customers = int(row.max(initial=-1)) + 1
    # Each customer's last order: the latest time, then the highest order id.
    order = np.lexsort((lines.order, lines.placed_us, row))
    sorted_rows = row[order]
    end = np.ones(len(order), dtype=bool)
    end[:-1] = sorted_rows[1:] != sorted_rows[:-1]
    last_line = np.zeros(customers, dtype=np.int64)
    last_line[sorted_rows[end]] = order[end]  # each customer's latest line
    last_order = lines.order[last_line]
    hidden = lines.order == last_order[row]
    hidden_at = lines.placed_us[last_line]

    train = scoring.Purchases.latest(row[~hidden], lines.product[~hidden], lines.placed_us[~hidden])
    now_us = int(lines.placed_us[~hidden].max(initial=0))
    candidates = _candidates(lines, train, customers, now_us)
    n = len(lines.product_ids)
    baseline = scoring.Candidates(
        neighbours=sparse.csr_matrix((n, n)),
        category_popular=sparse.csr_matrix((1, n)),
        shop_popular=candidates.shop_popular,
        offerable=candidates.offerable,
        replenish_days=np.zeros(n, dtype=np.int64),
        category=np.zeros(n, dtype=np.int64),
        shop=candidates.shop,
    )
    evaluated = np.zeros(customers, dtype=bool)
    evaluated[train.row] = True
    target = np.unique(row[hidden] * n + lines.product[hidden])
    evaluated &= np.isin(np.arange(customers), target // n)
    hits = {"reco": np.zeros(2), "popular": np.zeros(2)}
    for first in range(0, customers, batch):
        last = min(first + batch, customers)
        keep = (train.row >= first) & (train.row < last)
        part = scoring.Purchases(train.row[keep] - first, train.product[keep], train.last_us[keep])
        shops = np.zeros(last - first, dtype=np.int64)
        for name, chosen in (("reco", candidates), ("popular", baseline)):
            ranked = scoring.recommend(part, last - first, shops, chosen, hidden_at[first:last], 10)
            hit = np.isin((ranked.row + first) * n + ranked.col, target)
            for i, k in enumerate((5, 10)):
                rows = np.unique(ranked.row[hit & (ranked.rank < k)] + first)
                hits[name][i] += np.count_nonzero(evaluated[rows])
    total = int(evaluated.sum())
    share = {name: (h / total if total else np.zeros(2)) for name, h in hits.items()}
    return HitRate(
        customers=total,
        hit_at_5=float(share["reco"][0]),
        hit_at_10=float(share["reco"][1]),
        popular_hit_at_5=float(share["popular"][0]),
        popular_hit_at_10=float(share["popular"][1]),
        seconds=time.perf_counter() - start,
    )


def shop_hit_rate(*, shop_id: int) -> HitRate:
    """The held-out hit rate of one shop, from the database."""
    return hit_rate(shop_lines(shop_id))
