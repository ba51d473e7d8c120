"""Where a webhook may point: no request forgery into the CRM's own network (SSRF).

A URL is refused unless it is https (``WEBHOOK_REQUIRE_HTTPS``) and every address its host
resolves to is a public one: private, loopback, link-local (cloud metadata), reserved,
multicast and unspecified addresses are refused, IPv4 and IPv6 alike (an IPv4-mapped IPv6
address is judged as the IPv4 one). It is checked when staff save the endpoint and again
before each attempt, since a name's addresses can change after it was saved. Tests allow
loopback, and only loopback, with ``WEBHOOK_ALLOW_LOOPBACK``.
"""

import ipaddress
import socket
from urllib.parse import urlsplit

from django.conf import settings


class UnsafeAddress(ValueError):
    """The URL may not be sent to; the message says why."""


def _refused(address: ipaddress.IPv4Address | ipaddress.IPv6Address) -> str:
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped:
        address = address.ipv4_mapped
    if address.is_loopback:
        return "" if settings.WEBHOOK_ALLOW_LOOPBACK else "a loopback address"
    if address.is_link_local:
        return "a link-local address"
    if address.is_private:
        return "a private address"
    if address.is_multicast:
        return "a multicast address"
    if address.is_unspecified or address.is_reserved or not address.is_global:
        return "a reserved address"
    return ""


def url_check(url: str) -> list[str]:
    """The addresses ``url``'s host resolves to, all of them allowed; ``UnsafeAddress`` if not."""
    parts = urlsplit(url)
    allowed = ("https",) if settings.WEBHOOK_REQUIRE_HTTPS else ("https", "http")
    if parts.scheme not in allowed:
        raise UnsafeAddress("The URL must start with https://.")
    if not parts.hostname:
        raise UnsafeAddress("The URL has no host.")
    if parts.username or parts.password:
        raise UnsafeAddress("The URL may not carry a user name or password.")
    try:
        port = parts.port or (443 if parts.scheme == "https" else 80)
        infos = socket.getaddrinfo(parts.hostname, port, type=socket.SOCK_STREAM)
    except (OSError, ValueError) as error:
        raise UnsafeAddress(f"The host {parts.hostname} cannot be resolved.") from error
    addresses = list(dict.fromkeys(info[4][0] for info in infos))  # the system's order of preference
    for text in addresses:
        why = _refused(ipaddress.ip_address(text.split("%")[0]))
        if why:
            raise UnsafeAddress(
                f"The host {parts.hostname} resolves to {text}, {why}: webhooks go to public addresses only."
            )
    return addresses
