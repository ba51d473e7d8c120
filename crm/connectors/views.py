"""The platforms' webhook endpoints: plain Django views (no DRF), kept lean, since Shopify
waits at most 5 s and a burst may bring thousands a second. Verify, store, answer; the
processing runs after the response (``crm.connectors.processing``)."""

from django.http import HttpResponse, JsonResponse
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_POST

from crm.after_response import after_response
from crm.connectors.processing import deliveries_kick_coalesced as deliveries_kick
from crm.connectors.receive import Refused, shopify_receive, woocommerce_receive


@csrf_exempt
@require_POST
def shopify_webhook(request, token: str):
    try:
        shopify_receive(token=token, headers=request.headers, body=request.body)
    except Refused as exc:
        return JsonResponse({"detail": exc.message}, status=exc.status)
    after_response(deliveries_kick)
    return HttpResponse(status=200)


@csrf_exempt
@require_POST
def woocommerce_webhook(request, token: str):
    try:
        stored = woocommerce_receive(token=token, headers=request.headers, body=request.body)
    except Refused as exc:
        return JsonResponse({"detail": exc.message}, status=exc.status)
    if stored:
        after_response(deliveries_kick)
    return HttpResponse(status=200)
