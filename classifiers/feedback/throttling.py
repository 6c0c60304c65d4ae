"""Flags per client: FLAG_RATE (e.g. 20/hour), counted in the shared cache
like uploads (classifiers.api.throttling) and by the same client key."""

from __future__ import annotations

import math

from django.conf import settings
from rest_framework.throttling import SimpleRateThrottle

from classifiers.api.throttling import UploadThrottle
from classifiers.inference.refusals import Refused


class FlagRateExceeded(Refused):
    code = "throttled"
    status = 429


class FlagThrottle(UploadThrottle):
    """The uploads' sliding window and client key, with its own count and rate."""

    cache_format = "flags:%(ident)s"

    def allow_request(self, request, view=None) -> bool:
        self.rate = settings.FLAG_RATE
        self.num_requests, self.duration = self.parse_rate(self.rate)
        return SimpleRateThrottle.allow_request(self, request, view)


def flag_allowance_take(request) -> None:
    """Count one flag of this client; raise FlagRateExceeded past FLAG_RATE."""
    throttle = FlagThrottle()
    if throttle.allow_request(request):
        return
    wait = max(1, math.ceil(throttle.wait()))
    minutes = math.ceil(wait / 60)
    when = f"{wait} seconds" if wait < 90 else f"{minutes} minutes"
    raise FlagRateExceeded(
        f"You have flagged many answers already; please try again in {when}.",
        retry_after=wait,
    )
