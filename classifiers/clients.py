"""Who is asking: one answer for the pages and the API, used by every limit.

A client is its account when signed in, else its network address: the last
hop that reached us (REMOTE_ADDR), or, behind API_NUM_PROXIES proxies we run,
the address the outermost of them saw. X-Forwarded-For is written by the
client itself unless a proxy of ours rewrites it, so it is never trusted
further than that. An IPv6 client is its /64: one home or phone network is
given a whole /64 and could otherwise take a fresh allowance per address.

``client_key`` is what is stored (``Prediction.client_key``) and counted: a
keyed hash of the address, never the address itself.
"""

from __future__ import annotations

import ipaddress

from django.conf import settings
from django.http import HttpRequest
from django.utils.crypto import salted_hmac

USER_PREFIX = "user:"
ADDRESS_PREFIX = "addr:"
IPV6_CLIENT_PREFIX = 64  # bits of an IPv6 address that name one client network


def client_address(request: HttpRequest) -> str:
    """The address limits are counted by, as trusted as the proxies allow."""
    remote = request.META.get("REMOTE_ADDR", "")
    proxies = settings.REST_FRAMEWORK.get("NUM_PROXIES") or 0
    forwarded = request.META.get("HTTP_X_FORWARDED_FOR")
    if proxies <= 0 or not forwarded:
        return remote
    # Each proxy appends the address it saw: the one `proxies` from the end
    # was written by our outermost proxy; anything before it, by the client.
    hops = [hop.strip() for hop in forwarded.split(",")]
    return hops[-min(proxies, len(hops))]


def _network(address: str) -> str:
    try:
        ip = ipaddress.ip_address(address)
    except ValueError:
        return address  # not an address (a bad header): still one client, by its text
    if ip.version == 6:
        if ip.ipv4_mapped is not None:  # ::ffff:a.b.c.d is the IPv4 client a.b.c.d
            return str(ip.ipv4_mapped)
        return str(ipaddress.ip_network(f"{ip}/{IPV6_CLIENT_PREFIX}", strict=False))
    return str(ip)


def client_key(request: HttpRequest) -> str:
    """``user:<id>`` for an account, else ``addr:`` and a keyed hash of the
    client's network (keyed with SECRET_KEY: the 4 billion IPv4 addresses are
    too few for a plain hash to hide one)."""
    user = getattr(request, "user", None)
    if user is not None and user.is_authenticated:
        return f"{USER_PREFIX}{user.pk}"
    digest = salted_hmac(
        "classifiers.clients.client_key", _network(client_address(request)), algorithm="sha256"
    )
    return ADDRESS_PREFIX + digest.hexdigest()[:40]
