"""The personal data in the messaging app's models: a mark on every field (core.personal_data)."""

from core.personal_data import Marks

MARKS = [
    Marks(
        "messaging.SenderIdentity",
        shop="shop",
        none=(
            "id",
            "created_at",
            "updated_at",
            "shop",
            "from_name",
            "from_email",
            "reply_to",
            "logo_url",
            "brand_colour",
            "footer_address",
        ),
    ),
    Marks(
        "messaging.Message",
        customer="customer",
        shop="shop",
        erase=("to_email", "context", "subject", "html", "text", "headers", "last_error"),
        keep=(
            "key",
            "kind",
            "template",
            "message_id",
            "status",
            "attempts",
            "provider_message_id",
            "sent_at",
            "created_at",
        ),
        why_kept="Which email went when and what became of it: campaign results count them.",
        none=("id", "customer", "shop", "from_email", "reply_to", "next_attempt_at", "claimed_until", "updated_at"),
    ),
    Marks(
        "messaging.MessageEvent",
        customer="message__customer",
        shop="message__shop",
        erase=("detail",),
        keep=("message", "status", "at", "provider_event", "provider_event_key"),
        why_kept="Delivery results count them.",
        none=("id",),
    ),
    Marks(
        "messaging.Suppression",
        shop="shop",
        erase=("address",),
        none=("id", "reason", "shop", "detail", "created_at"),
    ),
    Marks(
        "messaging.OutboxEmail",
        customer="message__customer",
        shop="message__shop",
        erase=("to", "subject", "html", "text", "headers", "raw"),
        keep=("message", "message_id_header", "created_at"),
        why_kept="The message it belongs to stays.",
        none=("id", "from_email"),
    ),
    Marks(
        "messaging.ImapMailbox",
        none=(
            "created_at",
            "updated_at",
            "id",
            "key",
            "uidvalidity",
            "last_uid",
            "lease_owner",
            "lease_until",
            "last_run_at",
            "last_error",
            "received",
        ),
    ),
    Marks(
        "messaging.ImapFailure",
        keep=("subject", "error", "message_id"),
        why_kept=(
            "A mail the support mailbox could not read, linked to no customer; staff clear it when they resolve it."
        ),
        none=("id", "mailbox", "uid", "attempts", "first_failed_at", "last_failed_at"),
    ),
]
