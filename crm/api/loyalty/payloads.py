"""What shops send about loyalty: a redemption, a code consumed at checkout, a manual
adjustment, the referral code a new customer came with (msgspec structs, like
``crm.api.commerce.payloads``; errors name the field)."""

from typing import Annotated

import msgspec

from core.payloads import Text, check_text, fail
from loyalty.services import MAX_ADJUST


class RedeemIn(msgspec.Struct, kw_only=True):
    reward_id: Annotated[int, msgspec.Meta(ge=1, description="A reward from GET /loyalty/rewards")]


class ConsumeIn(msgspec.Struct, kw_only=True):
    order_external_id: Text(255) = ""

    def __post_init__(self):
        check_text(self)


class AdjustIn(msgspec.Struct, kw_only=True):
    points: Annotated[
        int, msgspec.Meta(ge=-MAX_ADJUST, le=MAX_ADJUST, description="Points to add (or, negative, to take)")
    ]
    reason: Text(255)

    def __post_init__(self):
        check_text(self)
        if self.points == 0:
            fail("points", "Must not be zero.")
        self.reason = self.reason.strip()
        if not self.reason:
            fail("reason", "This field may not be blank.")


class ReferralIn(msgspec.Struct, kw_only=True):
    referral_code: Annotated[str, msgspec.Meta(max_length=16, description="The referrer's referral code")]

    def __post_init__(self):
        check_text(self)
        self.referral_code = self.referral_code.strip().upper()
        if not self.referral_code:
            fail("referral_code", "This field may not be blank.")
