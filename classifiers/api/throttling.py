"""Upload rates, counted in the shared cache (Redis when CACHE_URL says so).

Clients are told apart by REMOTE_ADDR (REST_FRAMEWORK["NUM_PROXIES"] = 0 by
default), so a made-up X-Forwarded-For header does not give a fresh allowance.
"""

from __future__ import annotations

from rest_framework.settings import api_settings
from rest_framework.throttling import AnonRateThrottle, UserRateThrottle


class _RateFromSettings:
    """DRF copies the rates into the class at import; read them per request
    instead, so a changed setting (and a test's override) takes effect."""

    scope: str

    def get_rate(self) -> str | None:
        return api_settings.DEFAULT_THROTTLE_RATES.get(self.scope)


class AnonUploadThrottle(_RateFromSettings, AnonRateThrottle):
    """Anonymous uploads per client address (API_ANON_UPLOAD_RATE)."""

    scope = "anon_upload"


class UserUploadThrottle(_RateFromSettings, UserRateThrottle):
    """Uploads per account (API_USER_UPLOAD_RATE); anonymous ones are the other's."""

    scope = "user_upload"

    def get_cache_key(self, request, view) -> str | None:
        if not request.user or not request.user.is_authenticated:
            return None
        return super().get_cache_key(request, view)
