"""Upload rates, one allowance per client for the demo pages and the API alike.

Counted in the shared cache (Redis when CACHE_URL says so, else the database
cache that every web process shares: a per-process cache would give each
gunicorn worker an allowance of its own). Clients are told apart by
classifiers.clients: an account by its id, anyone else by their address.
"""

from __future__ import annotations

import math

from django.conf import settings
from rest_framework.throttling import SimpleRateThrottle

from classifiers.clients import client_key
from classifiers.inference.refusals import Refused


class UploadRateExceeded(Refused):
    """Past UPLOAD_ANON_RATE (per address) or UPLOAD_USER_RATE (per account)."""

    code = "throttled"
    status = 429


class UploadThrottle(SimpleRateThrottle):
    """DRF's sliding window of request times, with the rate chosen per request:
    UPLOAD_USER_RATE for an account, UPLOAD_ANON_RATE for anyone else."""

    cache_format = "uploads:%(ident)s"

    def __init__(self) -> None:
        # The rate depends on who asks (and a test may change the setting):
        # it is read in allow_request, not fixed when the class is made.
        self.rate = None

    def allow_request(self, request, view=None) -> bool:
        user = getattr(request, "user", None)
        signed_in = user is not None and user.is_authenticated
        self.rate = settings.UPLOAD_USER_RATE if signed_in else settings.UPLOAD_ANON_RATE
        self.num_requests, self.duration = self.parse_rate(self.rate)
        return super().allow_request(request, view)

    def get_cache_key(self, request, view) -> str:
        return self.cache_format % {"ident": client_key(request)}

    def wait(self) -> float:
        # DRF answers None when the history is longer than a lowered rate
        # allows; a client still needs a time to come back.
        remaining = super().wait()
        return self.duration if remaining is None else remaining


def upload_allowance_take(request) -> None:
    """Count one upload of this client (page form, example click or re-run);
    raise UploadRateExceeded, with the seconds to wait, past its rate."""
    throttle = UploadThrottle()
    if throttle.allow_request(request):
        return
    wait = max(1, math.ceil(throttle.wait()))
    raise UploadRateExceeded(
        f"You have sent too many photos for now; please try again in {_in_words(wait)}.",
        retry_after=wait,
    )


def _in_words(seconds: int) -> str:
    if seconds < 90:
        return f"{seconds} seconds"
    return f"{math.ceil(seconds / 60)} minutes"
