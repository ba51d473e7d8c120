"""Loyalty over the API: a customer's points, the reward catalogue, redeeming a reward for a
code, checking and consuming the code at checkout, a new customer's referral code, and
manual adjustments (manager keys only). All limited to the key's shop: the points are the
customer's account in the shop's group (shops share a balance only when a manager put them in
one group), and a customer with no points there gets the same body with zeros, whatever they
hold elsewhere."""

from drf_spectacular.utils import extend_schema
from rest_framework import generics, status
from rest_framework.response import Response
from rest_framework.views import APIView

from core.payloads import decode
from crm.api.auth import Permissions, request_shop
from crm.api.customer_ids import customer_id, ids_context
from crm.api.errors import not_found
from crm.api.idempotency import ReplaySafePostMixin
from crm.api.loyalty.payloads import AdjustIn, ConsumeIn, RedeemIn, ReferralIn
from crm.api.loyalty.serializers import (
    AccountOutSerializer,
    CodeOutSerializer,
    LoyaltyOutSerializer,
    ReferralOutSerializer,
    RewardOutSerializer,
)
from crm.api.schema import errors, payload
from customers import selectors as customer_selectors
from loyalty import selectors
from loyalty.models import Reward
from loyalty.programme import programme_get
from loyalty.referrals import referral_attach, referral_code_of
from loyalty.services import code_consume, code_for_shop, points_adjust, reward_redeem, rewards_available

HISTORY_LENGTH = 20


def _customer(request, pk: int):
    """The customer ``pk`` names through the key (``crm.api.customer_ids``), or None."""
    return customer_selectors.customer_of_ref(shop=request_shop(request), ref=pk).first()


def _ids(request, *customer_pks: int) -> dict:
    return ids_context(shop=request_shop(request), customer_ids=customer_pks)


class CustomerLoyaltyView(APIView):
    required_permissions: Permissions = {"GET": ("loyalty.view_account",)}

    @extend_schema(
        operation_id="customers_loyalty",
        responses={200: LoyaltyOutSerializer, **errors(401, 404)},
        description=f"The customer's points: balance, pending, tier, progress to the next tier, and the last "
        f"{HISTORY_LENGTH} ledger entries.",
    )
    def get(self, request, pk: int):
        customer = _customer(request, pk)
        if customer is None:
            return not_found("customer")
        group_id = request_shop(request).group_id
        account = selectors.account_of(customer.pk, group_id)
        progress = selectors.tier_progress(account)
        body = {
            "customer_id": customer_id(shop=request_shop(request), customer_pk=customer.pk),
            "balance": account.balance,
            "pending": account.pending,
            "tier": account.tier,
            "tier_since": account.tier_since,
            "referral_code": referral_code_of(customer.pk, group_id),
            "progress": {
                "basis": programme_get().tier_basis,
                "qualifying": progress.qualifying,
                "next_tier": progress.next_tier,
                "needed": progress.needed,
                "percent": progress.percent,
            },
            "history": selectors.history(customer.pk, group_id)[:HISTORY_LENGTH],
        }
        return Response(LoyaltyOutSerializer(body).data)


class RewardListView(generics.ListAPIView):
    """The rewards this shop's customers can redeem now (cursor pages)."""

    required_permissions: Permissions = {"GET": ("loyalty.view_reward",)}

    serializer_class = RewardOutSerializer

    def get_queryset(self):
        if getattr(self, "swagger_fake_view", False):  # the schema generator
            return Reward.objects.none()
        return rewards_available(shop=request_shop(self.request))

    @extend_schema(
        operation_id="loyalty_rewards", responses={200: RewardOutSerializer(many=True), **errors(400, 401, 404)}
    )
    def get(self, request, *args, **kwargs):
        return super().get(request, *args, **kwargs)


class RedeemView(ReplaySafePostMixin, APIView):
    required_permissions: Permissions = {"POST": ("loyalty.add_rewardcode",)}

    @extend_schema(
        operation_id="customers_loyalty_redeem",
        request=payload(RedeemIn),
        responses={201: CodeOutSerializer, **errors(400, 401, 404)},
        description="Spend the customer's points on a reward. Returns a single-use code for this shop. Refused, with "
        "nothing spent, when the balance is short, the reward is not on offer here, or its limits are reached. Send "
        "an Idempotency-Key to retry safely.",
    )
    def post(self, request, pk: int):
        body = decode(request.body, RedeemIn)
        customer = _customer(request, pk)
        if customer is None:
            return not_found("customer")
        code = reward_redeem(customer=customer, shop=request_shop(request), reward_id=body.reward_id)
        context = _ids(request, code.customer_id)
        return Response(CodeOutSerializer(code, context=context).data, status=status.HTTP_201_CREATED)


class CodeDetailView(APIView):
    required_permissions: Permissions = {"GET": ("loyalty.view_rewardcode",)}

    @extend_schema(
        operation_id="loyalty_codes_retrieve",
        responses={200: CodeOutSerializer, **errors(401, 404)},
        description="Check a reward code at checkout: what it gives, and whether it is still usable.",
    )
    def get(self, request, code: str):
        found = code_for_shop(shop=request_shop(request), code=code)
        return Response(CodeOutSerializer(found, context=_ids(request, found.customer_id)).data)


class CodeConsumeView(ReplaySafePostMixin, APIView):
    required_permissions: Permissions = {"POST": ("loyalty.change_rewardcode",)}

    @extend_schema(
        operation_id="loyalty_codes_consume",
        request=payload(ConsumeIn),
        responses={200: CodeOutSerializer, **errors(400, 401, 404, 409, 410)},
        description="Use a reward code, once (with the order it was used on). A code already used gets 409; an "
        "expired one 410; another shop's code 404.",
    )
    def post(self, request, code: str):
        body = decode(request.body or b"{}", ConsumeIn)
        used = code_consume(shop=request_shop(request), code=code, order_external_id=body.order_external_id.strip())
        return Response(CodeOutSerializer(used, context=_ids(request, used.customer_id)).data)


class PointsAdjustView(ReplaySafePostMixin, APIView):
    # Managers only: a key with a role that holds loyalty.adjust_points, not an integration key.
    required_permissions: Permissions = {"POST": ("loyalty.adjust_points",)}
    role_keys_only = True

    @extend_schema(
        operation_id="customers_loyalty_adjust",
        request=payload(AdjustIn),
        responses={200: AccountOutSerializer, **errors(400, 401, 403, 404)},
        description="Add or take points by hand, with a reason. Only keys with the Manager role. A deduction may not "
        "take the balance below zero. Send an Idempotency-Key to retry safely.",
    )
    def post(self, request, pk: int):
        body = decode(request.body, AdjustIn)
        customer = _customer(request, pk)
        if customer is None:
            return not_found("customer")
        account = points_adjust(
            customer=customer,
            group_id=request_shop(request).group_id,
            points=body.points,
            reason=body.reason,
            api_key=request.auth,
        )
        return Response(AccountOutSerializer(account, context=_ids(request, account.customer_id)).data)


class ReferralView(ReplaySafePostMixin, APIView):
    required_permissions: Permissions = {"POST": ("loyalty.add_referral",)}

    @extend_schema(
        operation_id="customers_loyalty_referral",
        request=payload(ReferralIn),
        responses={201: ReferralOutSerializer, **errors(400, 401, 404, 409)},
        description="Record the referral code a new customer signed up with. Both are rewarded when the new "
        "customer's first paid order clears the return window. Refused (400) for an unknown code, the customer's "
        "own code or mailbox, or a customer who has ordered before; 409 if they were already referred.",
    )
    def post(self, request, pk: int):
        body = decode(request.body, ReferralIn)
        customer = _customer(request, pk)
        if customer is None:
            return not_found("customer")
        referral = referral_attach(referee=customer, group_id=request_shop(request).group_id, code=body.referral_code)
        context = _ids(request, referral.referee_id)
        return Response(ReferralOutSerializer(referral, context=context).data, status=status.HTTP_201_CREATED)
