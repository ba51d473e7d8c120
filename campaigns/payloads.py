"""What API clients send about segments (msgspec structs, like ``crm.api.commerce.payloads``)."""

from typing import Any

from core.payloads import Payload, Problems, check_json


class SegmentPreviewIn(Payload, kw_only=True):
    rule: dict[str, Any]  # checked by campaigns.segments.rules.parse

    def check(self, problems: Problems) -> None:
        check_json(problems, "rule", self.rule, path_in_message=True)
