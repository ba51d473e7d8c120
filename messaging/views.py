"""The public pages of the email channel: the unsubscribe link of marketing messages, and
the double opt-in's confirmation link.

No login: the signed token is the credential (``messaging.unsubscribe``). A bad token gets a
page that says so (400), never a traceback.
"""

from django.http import HttpResponse, HttpResponseRedirect
from django.shortcuts import render
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_http_methods

from messaging import consent, links
from messaging.consent import unsubscribe_via_message, unsubscribed
from messaging.unsubscribe import UnsubscribeLinkError, message_for_token


# Exempt from CSRF: RFC 8058's one-click POST comes from the mail provider's servers, with
# no cookie and no form token. The signed token in the URL is what authorises it, and the
# only thing a POST can do is stop one shop's marketing mail to one address (docs/security.md).
@csrf_exempt
@require_http_methods(["GET", "HEAD", "POST"])  # HEAD: link checkers probe with it
def unsubscribe(request, token: str):
    """GET: a page with a button, and nothing changes (link scanners follow links). POST (the
    button, or the mail client's one-click): unsubscribed at once."""
    try:
        message = message_for_token(token)
    except UnsubscribeLinkError as error:
        return render(request, "messaging/public/link_invalid.html", {"message": str(error)}, status=400)
    if request.method == "POST":
        unsubscribe_via_message(message)
        done = True
    else:
        done = unsubscribed(message)
    context = {"shop": message.shop, "address": message.to_email, "done": done}
    return render(request, "messaging/public/unsubscribe.html", context)


@require_http_methods(["GET", "HEAD", "POST"])  # HEAD: link checkers probe with it
def subscription_confirm(request, token: str):
    """GET: a page with a button, and nothing changes (link scanners follow links). POST (the
    button, with its CSRF token: a person's form, unlike the unsubscribe): confirmed."""
    try:
        message = consent.confirmation_for_token(token)
    except consent.ConfirmLinkError as error:
        return render(request, "messaging/public/link_invalid.html", {"message": str(error)}, status=400)
    if request.method == "POST":
        consent.subscription_confirm(message)
        done = True
    else:
        done = consent.subscription_confirmed(message)
    context = {"shop": message.shop, "address": message.to_email, "done": done}
    return render(request, "messaging/public/confirm.html", context)


# A 1×1 transparent GIF.
PIXEL = (
    b"GIF89a\x01\x00\x01\x00\x80\x00\x00\x00\x00\x00\xff\xff\xff!\xf9\x04\x01\x00\x00\x00\x00"
    b",\x00\x00\x00\x00\x01\x00\x01\x00\x00\x02\x02D\x01\x00;"
)


@require_http_methods(["GET", "HEAD"])
def click(request, token: str):
    """A tracked link (messaging/links.py): records the click (not for HEAD) and redirects,
    only to the address the token signs."""
    try:
        message_id, url = links.click_target(token)
    except links.TrackingLinkError as error:
        return render(request, "messaging/public/link_invalid.html", {"message": str(error)}, status=400)
    if request.method == "GET" and not links.click_record(message_id, url):
        return render(
            request, "messaging/public/link_invalid.html", {"message": "This link is no longer valid."}, status=404
        )
    return HttpResponseRedirect(url)


@require_http_methods(["GET", "HEAD"])
def open_pixel(request, token: str):
    """The open pixel: records an open once per message (not for HEAD); always the image."""
    try:
        message_id = links.open_target(token)
    except links.TrackingLinkError:
        return HttpResponse(status=404)
    if request.method == "GET":
        links.open_record(message_id)
    response = HttpResponse(PIXEL, content_type="image/gif")
    response["Cache-Control"] = "no-store, private"
    return response
