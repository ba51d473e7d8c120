"""The follow-up work after data arrives, taken from the outbox in batches.

Writes mark customers in ``customers.PendingUpdate`` in their own transaction (the orders,
refunds, events and NPS services do). This module does the work those marks stand for, in
the order the apps depend on each other: the customer's figures and stage (customers),
then their points (loyalty: new paid orders earn, refunds give back), then their segment
memberships (campaigns), so a segment on points sees the new balance.

``pending_updates_kick`` runs after each commit (and, in a request, after the response):
with a broker it queues one ``drain_pending_updates`` task, so a thousand orders cost one
task, not a thousand chains; on the embedded default it drains in-process (``core.kicks``).

Nothing is lost if the kick is: the marks are in the database, and beat drains every 30 s
(``CELERY_BEAT_SCHEDULE``), so work recorded while Redis was down runs when it returns.
"""

import logging
import time

from campaigns.services import segments_refresh_customers
from core.chunks import CHUNK_SIZE
from core.kicks import Kick
from customers.services.pending_updates import (
    pending_updates_claim,
    pending_updates_done,
    pending_updates_failed,
)
from customers.services.recompute import customers_recompute
from loyalty.earning import orders_award

logger = logging.getLogger(__name__)

DRAIN_SECONDS = 60  # one drain task works this long at most, then hands over to a new one


def pending_updates_run(*, limit: int = CHUNK_SIZE) -> tuple[int, int]:
    """Claim one batch of the outbox's rows and bring their customers up to date; returns
    (rows, customers) done.

    A failure keeps the marks (counted, with the error, retried after a backoff) and is
    raised: the data stays marked until the work succeeds."""
    claim = pending_updates_claim(limit=limit)
    if claim is None:
        return 0, 0
    ids = claim.customer_ids
    try:
        customers_recompute(customer_ids=ids)
        orders_award(ids)
        segments_refresh_customers(customer_ids=ids)
    except Exception as exc:
        try:
            pending_updates_failed(claim, error=f"{type(exc).__name__}: {exc}")
        except Exception:  # the database itself is gone: the lease runs out instead
            logger.warning("Could not record the failure of %d pending updates", len(ids), exc_info=True)
        raise
    pending_updates_done(claim)
    return len(claim.row_ids), len(ids)


def pending_updates_drain(*, seconds: float = DRAIN_SECONDS, on_full_batch=None) -> int:
    """Run batches until none is left or ``seconds`` have passed; returns customers done.
    ``on_full_batch`` is called after each full batch (more is likely waiting)."""
    done, deadline = 0, time.monotonic() + seconds
    while time.monotonic() < deadline:
        rows, customers = pending_updates_run()
        done += customers
        if rows < CHUNK_SIZE:
            break
        if on_full_batch is not None:
            on_full_batch()
    return done


# ------------------------------------------------------------------------------ dispatch

# Run after each commit that marked customers (``crm.pipeline``); the task is
# ``crm.tasks.drain_pending_updates``. See ``core.kicks``.
pending_updates_kick = Kick(
    flag="crm:pending-updates:drain-queued",
    task="crm.tasks.drain_pending_updates",
    seconds=DRAIN_SECONDS,
    run=lambda: pending_updates_drain(),
    log=logger,
)
