"""Purchase summaries and RFM scoring: the conventions, checked by hand and against a naive version."""

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from customers.metrics import rfm
from customers.metrics.summary import summarise


def test_same_day_orders_are_one_purchase_and_the_first_is_left_out_of_monetary():
    # Customer 7: two orders on day 0, then days 10 and 30. Customer 9: one order.
    s = summarise([7, 7, 9, 7, 7], [0, 0, 5, 10, 30], [5.0, 5.0, 12.0, 20.0, 40.0])

    assert s.customer_ids.tolist() == [7, 9]
    assert s.orders.tolist() == [4, 1]
    assert s.frequency.tolist() == [2, 0]
    assert s.recency().tolist() == [30, 0]
    assert s.age(40).tolist() == [40, 35]
    assert s.age(42, "weeks").tolist() == [6, 37 / 7]
    assert s.monetary.tolist() == [30.0, 0.0]  # (20 + 40) / 2; the day-0 purchase is excluded
    assert s.total.tolist() == [70.0, 12.0]
    assert s.gap_median.tolist()[0] == 15.0 and np.isnan(s.gap_median[1])
    assert s.gap_mean.tolist()[0] == 15.0 and np.isnan(s.gap_mean[1])


def test_an_empty_input_gives_an_empty_summary():
    assert summarise([], [], []).customer_ids.size == 0


orders = st.lists(st.tuples(st.integers(1, 6), st.integers(0, 60), st.integers(1, 500)), min_size=1, max_size=60)


@settings(max_examples=200, deadline=None)
@given(orders)
def test_the_vectorised_summary_matches_a_per_customer_loop(rows):
    customers, days, cents = (np.array(col) for col in zip(*rows, strict=True))
    s = summarise(customers, days, cents / 100)

    for i, customer in enumerate(s.customer_ids.tolist()):
        by_day: dict[int, float] = {}
        for c, d, a in rows:
            if c == customer:
                by_day[d] = by_day.get(d, 0) + a / 100
        purchase_days = sorted(by_day)
        gaps = np.diff(purchase_days)
        assert s.purchase_days[i] == len(purchase_days)
        assert s.first_day[i] == purchase_days[0] and s.last_day[i] == purchase_days[-1]
        assert np.isclose(s.total[i], sum(by_day.values()))
        repeat = [by_day[d] for d in purchase_days[1:]]
        assert np.isclose(s.monetary[i], np.mean(repeat) if repeat else 0.0)
        if gaps.size:
            assert s.gap_median[i] == np.median(gaps) and np.isclose(s.gap_mean[i], gaps.mean())
        else:
            assert np.isnan(s.gap_median[i])


def test_rfm_scores_are_quintiles_and_ties_go_down():
    bounds = rfm.breakpoints(np.arange(1, 101))
    assert rfm.score([1, 20, 21, 50, 81, 100], bounds).tolist() == [1, 1, 2, 3, 5, 5]

    most_bought_once = rfm.breakpoints([1] * 70 + [2] * 20 + [5] * 10)
    assert rfm.score([1, 2, 5], most_bought_once).tolist() == [1, 4, 5]


def test_recent_buyers_score_high_on_recency():
    bounds = {"recency": rfm.breakpoints(-np.arange(0, 100)), "frequency": [], "monetary": []}
    r, f, m = rfm.scores([2, 95], [1, 1], [10, 10], bounds)
    assert r.tolist() == [5, 1]
    assert f.tolist() == [3, 3]  # no boundaries yet: the middle score


def test_segments_follow_the_documented_grid():
    r = np.array([5, 5, 5, 4, 3, 3, 2, 2, 1, 1, 4])
    f = np.array([5, 1, 2, 1, 1, 3, 1, 3, 1, 5, 5])
    m = np.array([5, 1, 3, 1, 1, 3, 1, 3, 1, 5, 4])
    assert rfm.segments(r, f, m).tolist() == [
        "champions",
        "new",
        "potential_loyalist",
        "promising",
        "about_to_sleep",
        "need_attention",
        "hibernating",
        "at_risk",
        "lost",
        "cant_lose",
        "loyal",
    ]
