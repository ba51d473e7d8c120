"""What API clients send about segments (msgspec structs, like ``crm.api.commerce.payloads``)."""

from typing import Any

import msgspec

from core.payloads import check_json


class SegmentPreviewIn(msgspec.Struct, kw_only=True):
    rule: dict[str, Any]  # checked by campaigns.segments.rules.parse

    def __post_init__(self):
        check_json("rule", self.rule, path_in_message=True)
