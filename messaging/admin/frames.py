"""A message's HTML in the admin, shown safely.

The HTML is served by a view of its own (``html_response``), which the page frames with
``<iframe sandbox>``. The response's own policy is ``sandbox`` as well: whether it is framed
or opened directly, it runs in a unique origin with no scripts, forms, plugins or
navigation of the admin, so nothing in a message (ours, or later a customer's) can act as
the signed-in staff. Images load from https only (a logo); nothing else loads.
"""

from django.http import HttpResponse
from django.utils.html import format_html, format_html_join

# Nothing runs, nothing but images and inline styles load, only the admin may frame it.
HTML_POLICY = (
    "sandbox; default-src 'none'; img-src https: data:; style-src 'unsafe-inline'; "
    "frame-ancestors 'self'; base-uri 'none'; form-action 'none'"
)


def html_response(html: str) -> HttpResponse:
    response = HttpResponse(html, content_type="text/html; charset=utf-8")
    # Set here, so neither CSP middleware writes the site's policy over it.
    response.headers["Content-Security-Policy"] = HTML_POLICY
    response.headers["X-Frame-Options"] = "SAMEORIGIN"  # the admin's page frames it; nobody else
    response.headers["Referrer-Policy"] = "no-referrer"
    response.headers["Cache-Control"] = "private, no-store"
    return response


def html_frame(url: str, *, title: str, height: int = 640) -> str:
    return format_html(
        '<iframe sandbox src="{}" title="{}" referrerpolicy="no-referrer" class="email-html" '
        'style="width: 100%; max-width: 760px; height: {}px; border: 1px solid #d0d7de; border-radius: 6px; '
        'background: #fff;"></iframe>',
        url,
        title,
        height,
    )


def text_block(text: str) -> str:
    return format_html(
        '<pre class="email-text" style="white-space: pre-wrap; max-width: 760px; font-size: 13px;">{}</pre>', text
    )


def headers_table(headers: dict) -> str:
    if not headers:
        return "—"
    rows = format_html_join(
        "", '<tr><th style="text-align: left; padding-right: 1rem;">{}</th><td>{}</td></tr>', headers.items()
    )
    return format_html('<table class="email-headers">{}</table>', rows)
