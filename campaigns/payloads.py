"""What API clients send about segments (msgspec structs, like ``customers.payloads``)."""

from typing import Any

import msgspec


class SegmentPreviewIn(msgspec.Struct, kw_only=True):
    rule: dict[str, Any]  # checked by campaigns.segments.rules.parse
