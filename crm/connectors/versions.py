"""Which version of a platform's resource was applied last (``ConnectorVersion``)."""

from datetime import UTC, datetime

from crm.connectors.models import ConnectorVersion

NEVER = datetime(1970, 1, 1, tzinfo=UTC)


def version_take(*, shop_id: int, resource: str, external_id: str, updated_at: datetime | None) -> bool:
    """True if this version is newer than the one applied (and record it as applied);
    False if an equal or newer one was. Locks the row until the caller's transaction ends,
    so two deliveries of one resource are applied one after the other. A version without
    an ``updated_at`` is always applied and leaves the recorded one as it is."""
    ConnectorVersion.objects.bulk_create(
        [ConnectorVersion(shop_id=shop_id, resource=resource, external_id=external_id, updated_at=NEVER)],
        ignore_conflicts=True,
    )
    row = ConnectorVersion.objects.select_for_update().get(shop_id=shop_id, resource=resource, external_id=external_id)
    if updated_at is None:
        return True
    if row.updated_at >= updated_at:
        return False
    ConnectorVersion.objects.filter(pk=row.pk).update(updated_at=updated_at)
    return True
