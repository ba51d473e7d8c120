"""Writing a row once per external id: what makes a shop's replayed request write nothing twice."""

from collections.abc import Callable

from django.db import IntegrityError, transaction
from django.db.models import Model, QuerySet


def create_once[M: Model](replays: QuerySet[M] | None, create: Callable[[], M]) -> tuple[M, bool]:
    """``(create(), True)``, unless ``replays`` (the rows with the same external id, or None
    when the request carries none) finds one: then ``(that row, False)``.

    ``create`` runs in a savepoint, so a concurrent replay that wins the unique key between
    the check and the insert rolls back only this attempt, and its row is returned."""
    if replays is not None and (replay := replays.first()) is not None:
        return replay, False
    try:
        with transaction.atomic():
            return create(), True
    except IntegrityError:
        replay = replays.first() if replays is not None else None
        if replay is None:
            raise
        return replay, False
