"""What shops send about loyalty: a redemption, a code consumed at checkout, a manual
adjustment, the referral code a new customer came with (msgspec structs, like
``crm.api.commerce.payloads``; errors name the field)."""

from typing import Annotated

import msgspec

from core.payloads import Payload, Problems, Text
from loyalty.services import MAX_ADJUST


class RedeemIn(Payload, kw_only=True):
    reward_id: Annotated[int, msgspec.Meta(ge=1, description="A reward from GET /loyalty/rewards")]


class ConsumeIn(Payload, kw_only=True):
    order_external_id: Text(255) = ""


class AdjustIn(Payload, kw_only=True):
    points: Annotated[
        int, msgspec.Meta(ge=-MAX_ADJUST, le=MAX_ADJUST, description="Points to add (or, negative, to take)")
    ]
    reason: Text(255)

    def check(self, problems: Problems) -> None:
        if self.points == 0:
            problems.add("points", "Must not be zero.")
        self.reason = self.reason.strip()
        if not self.reason:
            problems.add("reason", "This field may not be blank.")


class ReferralIn(Payload, kw_only=True):
    referral_code: Annotated[str, msgspec.Meta(max_length=16, description="The referrer's referral code")]

    def check(self, problems: Problems) -> None:
        self.referral_code = self.referral_code.strip().upper()
        if not self.referral_code:
            problems.add("referral_code", "This field may not be blank.")
