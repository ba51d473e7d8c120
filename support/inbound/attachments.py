"""An email's attachments kept with its ticket message, within the limits of the settings.

``SUPPORT_INBOUND_ATTACHMENT_TYPES`` (MIME types; ``image/*`` matches a family),
``SUPPORT_INBOUND_MAX_ATTACHMENT_BYTES`` per file and ``SUPPORT_INBOUND_MAX_EMAIL_BYTES``
for the email's files together, in the order they come. A file refused is still listed on
the message, with why (``TicketAttachment.skipped``), so the agent can ask for it another
way; it is never an error. Files go to the default storage (``MEDIA_ROOT``), which is not
served: the admin serves each to staff who may see its ticket.
"""

from __future__ import annotations

import posixpath

from django.conf import settings
from django.core.files.base import ContentFile
from django.template.defaultfilters import filesizeformat

from support.inbound.parsing import Part
from support.models import TicketAttachment, TicketMessage


def _size(size: int) -> str:
    return filesizeformat(size).replace("\xa0", " ")


def type_allowed(content_type: str) -> bool:
    content_type = content_type.lower()
    for allowed in settings.SUPPORT_INBOUND_ATTACHMENT_TYPES:
        allowed = allowed.strip().lower()
        if allowed == content_type or (allowed.endswith("/*") and content_type.startswith(allowed[:-1])):
            return True
    return False


def _filename(name: str) -> str:
    """The file's own name, without any path a sender put in it."""
    name = posixpath.basename(name.replace("\\", "/")).strip().lstrip(".")
    return (name or "attachment")[-200:]


def attachments_store(message: TicketMessage, parts: tuple[Part, ...]) -> list[TicketAttachment]:
    """Keep (or list as skipped) each part with ``message``: one insert for all of them."""
    per_file = settings.SUPPORT_INBOUND_MAX_ATTACHMENT_BYTES
    per_email = settings.SUPPORT_INBOUND_MAX_EMAIL_BYTES
    kept = 0
    rows = []
    for part in parts:
        size = len(part.content)
        row = TicketAttachment(
            message=message, filename=_filename(part.filename), content_type=part.content_type[:255], size=size
        )
        if not type_allowed(part.content_type):
            row.skipped = f"files of type {part.content_type} are not accepted"
        elif size > per_file:
            row.skipped = f"larger than {_size(per_file)}, the most for one file"
        elif kept + size > per_email:
            row.skipped = f"the email's files would pass {_size(per_email)}, the most for one email"
        else:
            kept += size
            row.file.save(row.filename, ContentFile(part.content), save=False)
        rows.append(row)
    return TicketAttachment.objects.bulk_create(rows)
