"""A browser's anonymous identity, kept in its session."""

import secrets

VISITOR_SESSION_KEY = "visitor_id"
# Anonymous API clients have no session: each of their predictions gets a
# visitor id of its own with this prefix, and its uuid is what proves a right
# to read it (classifiers.api.selectors).
API_VISITOR_PREFIX = "api:"


def visitor_id(request, *, create: bool = False) -> str:
    value = request.session.get(VISITOR_SESSION_KEY, "")
    if not value and create:
        value = secrets.token_urlsafe(24)
        request.session[VISITOR_SESSION_KEY] = value
    return value


def api_visitor_id() -> str:
    """A fresh identity for one anonymous API upload (never in any session)."""
    return API_VISITOR_PREFIX + secrets.token_urlsafe(24)
