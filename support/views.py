"""The pages customers reach through signed links: rate a solved ticket, review an order.

No login: the signed token is the credential (``support.links``). A bad or expired link
gets a page that says so (404 or 410), never a traceback; form errors name the field.
"""

from django.shortcuts import render
from django.views.decorators.http import require_http_methods

from core.errors import DomainError
from customers.models import Order
from support import links
from support.feedback import csat_submit, review_link_products, review_via_link, reviews_of_order
from support.forms import CsatForm, ReviewForm
from support.models import CsatResponse, Ticket


def _bad_link(request, error: links.LinkError):
    status = 410 if error.expired else 404
    return render(request, "support/link_invalid.html", {"message": str(error)}, status=status)


@require_http_methods(["GET", "HEAD", "POST"])  # HEAD: link checkers probe with it
def csat(request, token: str):
    try:
        ticket_id = links.csat_ticket_id(token)
    except links.LinkError as error:
        return _bad_link(request, error)
    ticket = Ticket.objects.filter(pk=ticket_id).select_related("customer", "shop").first()
    if ticket is None:
        return _bad_link(request, links.LinkError("This link is not valid."))
    answered = CsatResponse.objects.filter(ticket=ticket).first()
    form = CsatForm(request.POST or None)
    status = 200
    if answered is None and request.method == "POST":
        if form.is_valid():
            try:
                answered = csat_submit(
                    ticket=ticket, rating=form.cleaned_data["rating"], comment=form.cleaned_data["comment"]
                )
            except DomainError as error:
                form.add_error(error.field if error.field in form.fields else None, str(error))
        if answered is None:
            status = 400
    context = {"ticket": ticket, "shop": ticket.shop, "form": form, "answered": answered}
    return render(request, "support/csat.html", context, status=status)


@require_http_methods(["GET", "HEAD", "POST"])  # HEAD: link checkers probe with it
def review(request, token: str):
    try:
        order_id = links.review_order_id(token)
    except links.LinkError as error:
        return _bad_link(request, error)
    order = Order.objects.filter(pk=order_id).select_related("shop", "customer").first()
    if order is None or order.status != Order.Status.FULFILLED:
        return _bad_link(request, links.LinkError("This order cannot be reviewed."))
    status, failed = 200, None
    if request.method == "POST":
        failed = ReviewForm(request.POST)
        if failed.is_valid():
            data = failed.cleaned_data
            try:
                review_via_link(
                    order=order, sku=data["sku"], rating=data["rating"], title=data["title"], body=data["body"]
                )
                failed = None
            except DomainError as error:
                failed.add_error(error.field if error.field in failed.fields else None, str(error))
        if failed is not None:
            status = 400
    written = reviews_of_order(order)
    products, shown = [], False
    for product in review_link_products(order):
        form = ReviewForm(initial={"sku": product.sku}, auto_id=f"id_{product.pk}_%s")
        if failed is not None and failed.data.get("sku") == product.sku:
            form, shown = failed, True
            form.auto_id = f"id_{product.pk}_%s"
        products.append({"product": product, "review": written.get(product.sku), "form": form})
    errors = failed.errors if failed and not shown else None
    context = {"order": order, "shop": order.shop, "products": products, "errors": errors}
    return render(request, "support/review.html", context, status=status)
