"""A browser's anonymous identity, kept in its session."""

import secrets

VISITOR_SESSION_KEY = "visitor_id"


def visitor_id(request, *, create: bool = False) -> str:
    value = request.session.get(VISITOR_SESSION_KEY, "")
    if not value and create:
        value = secrets.token_urlsafe(24)
        request.session[VISITOR_SESSION_KEY] = value
    return value
