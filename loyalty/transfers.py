"""Points moved from one customer to another when the staff merge two customers, and moved
back when they undo it (``crm.merging``): by ``transfer`` entries through the ledger, never
by editing a balance.

Per shop group, one entry takes the duplicate's available and pending points out of its
account there and another puts them into the survivor's account in the same group (created
if missing), so each group's points stay in that group and the person's total is kept.
The duplicate's earlier entries stay where they are (the ledger is append-only); the award
and the maturation follow its order streams to the survivor (``loyalty.merged``).
"""

from dataclasses import dataclass

from loyalty.ledger import Entry, accounts_lock, entries_post
from loyalty.models import Account, EntryKind, PointsEntry

FIRST_ORDER = "first_order:customer:"


@dataclass(frozen=True)
class Moved:
    """Points moved per group id: (available, pending)."""

    by_group: dict[int, tuple[int, int]]

    def as_json(self) -> dict[str, list[int]]:
        return {str(group): [available, pending] for group, (available, pending) in self.by_group.items()}

    @classmethod
    def from_json(cls, data: dict) -> "Moved":
        return cls({int(group): (int(a), int(p)) for group, (a, p) in data.items()})


def points_merge(*, source_id: int, target_id: int, key: str, reason: str) -> Moved:
    """Move all of ``source_id``'s points into ``target_id``'s accounts, group by group, and
    claim the target's first-order bonus in each group where the source had one (the moved
    orders would otherwise earn it a second time). ``key`` names the merge in the entries'
    keys (``merge:12``). Call inside a transaction."""
    accounts_lock([source_id, target_id])
    by_group = {
        group: (balance, pending)
        for group, balance, pending in Account.objects.filter(customer_id=source_id)
        .exclude(balance=0, pending=0)
        .order_by("group_id")
        .values_list("group_id", "balance", "pending")
    }
    moved = Moved(by_group)
    entries = _transfers(source_id, target_id, moved, key, reason)
    # The source's first-order bonuses, as the target's keys: a zero entry holds each key.
    prefix = f"{FIRST_ORDER}{source_id}:"
    for old in PointsEntry.objects.filter(customer_id=source_id, key__startswith=prefix).values_list("key", flat=True):
        group = int(old.split(":group:")[1].split(":")[0])
        entries.append(
            Entry(
                customer_id=target_id,
                group_id=group,
                kind=EntryKind.TRANSFER,
                key=f"{FIRST_ORDER}{target_id}:{old[len(prefix) :]}",
                source=key,
                reason=f"first-order bonus already given to customer #{source_id} ({reason})",
            )
        )
    accounts_lock([], pairs=[(target_id, group) for group in by_group])
    entries_post(entries)
    return moved


def points_unmerge(*, source_id: int, target_id: int, moved: Moved, key: str, reason: str) -> None:
    """Undo ``points_merge``: the same points back from ``target_id`` to ``source_id``."""
    accounts_lock([source_id, target_id])
    entries_post(_transfers(target_id, source_id, moved, f"{key}:undo", reason))


def _transfers(from_id: int, to_id: int, moved: Moved, key: str, reason: str) -> list[Entry]:
    entries = []
    for group, (available, pending) in sorted(moved.by_group.items()):
        for customer, sign, side in ((from_id, -1, "out"), (to_id, 1, "in")):
            entries.append(
                Entry(
                    customer_id=customer,
                    group_id=group,
                    kind=EntryKind.TRANSFER,
                    key=f"{key}:group:{group}:{side}",
                    source=key,
                    available=sign * available,
                    pending=sign * pending,
                    reason=reason,
                )
            )
    return entries
