"""An email's attachments kept with its ticket message, within the limits of the settings.

``SUPPORT_INBOUND_ATTACHMENT_TYPES`` (MIME types; ``image/*`` matches a family, but not
``image/svg+xml``, which can carry script, unless that is listed itself),
``SUPPORT_INBOUND_MAX_ATTACHMENT_BYTES`` per file and ``SUPPORT_INBOUND_MAX_EMAIL_BYTES``
for the email's files together, in the order they come. A file refused is still listed on
the message, with why (``TicketAttachment.skipped``), so the agent can ask for it another
way; it is never an error. Files go to the default storage (``MEDIA_ROOT``), which is not
served: the admin serves each to staff who may see its ticket.

The declared Content-Type is the sender's word, and the file is served under its own name:
``looks.png.exe`` declared ``image/png`` would be saved as an ``.exe``. So the name counts
too: a name whose extension is a program or script (``BLOCKED_EXTENSIONS``) is always
refused, and one whose extension stands for a type not accepted (``mimetypes``) is refused
whatever the declared type.
"""

from __future__ import annotations

import mimetypes
import posixpath

from django.conf import settings
from django.core.files.base import ContentFile
from django.template.defaultfilters import filesizeformat

from support.inbound.parsing import Part
from support.models import TicketAttachment, TicketMessage


def _size(size: int) -> str:
    return filesizeformat(size).replace("\xa0", " ")


# Programs and scripts Windows, browsers or phones run when opened: never kept, whatever
# their declared type or the settings.
BLOCKED_EXTENSIONS = frozenset(
    ".exe .com .bat .cmd .scr .pif .cpl .msi .msp .reg .js .jse .vb .vbs .vbe .ws .wsf .wsh"
    " .ps1 .psm1 .jar .apk .dll .lnk .hta".split()
)
# Types a family wildcard (``image/*``) does not admit: they can carry script.
_NOT_BY_WILDCARD = frozenset({"image/svg+xml"})


def type_allowed(content_type: str) -> bool:
    content_type = content_type.lower()
    for allowed in settings.SUPPORT_INBOUND_ATTACHMENT_TYPES:
        allowed = allowed.strip().lower()
        if allowed == content_type:
            return True
        if allowed.endswith("/*") and content_type.startswith(allowed[:-1]) and content_type not in _NOT_BY_WILDCARD:
            return True
    return False


def refusal(filename: str, content_type: str) -> str:
    """Why a file of this name and declared type is not kept, or "" if its type may be."""
    extension = posixpath.splitext(filename.rstrip(". ").lower())[1]
    if extension in BLOCKED_EXTENSIONS:
        return f"files named {extension} are not accepted"
    if not type_allowed(content_type):
        return f"files of type {content_type} are not accepted"
    guessed, _ = mimetypes.guess_type(filename.rstrip(". ").lower())
    if guessed is not None and not type_allowed(guessed):
        return f"files named {extension} ({guessed}) are not accepted"
    return ""


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
        refused = refusal(row.filename, part.content_type)
        if refused:
            row.skipped = refused
        elif size > per_file:
            row.skipped = f"larger than {_size(per_file)}, the most for one file"
        elif kept + size > per_email:
            row.skipped = f"the email's files would pass {_size(per_email)}, the most for one email"
        else:
            kept += size
            row.file.save(row.filename, ContentFile(part.content), save=False)
        rows.append(row)
    return TicketAttachment.objects.bulk_create(rows)
