"""A cap on request bodies, enforced before anything reads them.

gunicorn has no limit on a body's size (only on the request line and the
headers, set in the Makefile), and Django reads a multipart body as soon as
anything touches request.POST (the CSRF check does, before any view): a
400 MB body was spooled to temporary files before the upload's own size
check refused it. So the cap is here, first in MIDDLEWARE, decided from the
declared Content-Length alone, and the body of a refused request is never
read. A body without a Content-Length is read by Django as empty.
"""

from __future__ import annotations

from collections.abc import Callable

from django.conf import settings
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.template.loader import render_to_string
from django.urls import Resolver404, resolve

# What a form adds around its file: the CSRF token, the part headers, a few fields.
FORM_MARGIN = 1024 * 1024

# Staff pages that take model artifacts, evaluation sets or many photos at
# once (url names). Everywhere else takes at most one photo.
LARGE_BODY_VIEWS = frozenset(
    {
        "classifiers:version-new",
        "classifiers:evaluation-sets",
        "admin:classifiers_modelversion_add",
        "admin:classifiers_modelversion_change",
        "admin:classifiers_person_add",
        "admin:classifiers_person_change",
    }
)


def file_limit() -> int:
    """The largest file a request to any URL except LARGE_BODY_VIEWS may carry."""
    return settings.UPLOAD_MAX_BYTES


def large_file_limit() -> int:
    """The largest file of LARGE_BODY_VIEWS, sent by staff."""
    return max(settings.MODEL_UPLOAD_MAX_BYTES, settings.UPLOAD_MAX_BYTES)


def _file_limit_of(path: str) -> int:
    try:
        view_name = resolve(path).view_name
    except Resolver404:
        return file_limit()
    return large_file_limit() if view_name in LARGE_BODY_VIEWS else file_limit()


def _declared_length(request: HttpRequest) -> int:
    try:
        return max(0, int(request.META.get("CONTENT_LENGTH") or 0))
    except ValueError:
        return 0  # Django reads no body for a malformed length either


def _too_large(request: HttpRequest, limit: int) -> HttpResponse:
    # Said as the upload checks say it (classifiers.inference.images): to the
    # person it is the same refusal, only made earlier.
    message = f"The file is larger than {max(1, limit // (1024 * 1024))} MB."
    if request.path.startswith("/api/") or "application/json" in request.headers.get("Accept", ""):
        return JsonResponse({"error": message, "code": "too_large"}, status=413)
    html = render_to_string("413.html", {"message": message})
    return HttpResponse(html, status=413)


class RequestBodyLimitMiddleware:
    """413 for a body over the limit of its URL, before the body is read.

    The largest limit is checked at once; the per-URL one in process_view,
    which runs after the URL is resolved and the session user is known but
    before any other middleware's process_view (the CSRF check reads the
    body there). A large body is taken from signed-in staff only: the staff
    pages would refuse anyone else, but only after reading what was sent.
    """

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        if _declared_length(request) > large_file_limit() + FORM_MARGIN:
            # Too large for any URL: refused before even the session is read.
            return _too_large(request, _file_limit_of(request.path_info))
        return self.get_response(request)

    def process_view(self, request: HttpRequest, view, args, kwargs) -> HttpResponse | None:
        length = _declared_length(request)
        if length <= file_limit() + FORM_MARGIN:
            return None
        match = request.resolver_match
        user = getattr(request, "user", None)
        if (
            match is not None
            and match.view_name in LARGE_BODY_VIEWS
            and user is not None
            and user.is_authenticated
            and user.is_staff
        ):
            return None
        return _too_large(request, file_limit())


class HealthProbeMiddleware:
    """Answers /health/live and /health/ready before any other middleware.

    A load balancer or container runtime probes by address (Host:
    127.0.0.1:8000, or the container's IP), which DJANGO_ALLOWED_HOSTS rightly
    refuses for every page; and a probe over plain HTTP must not be redirected
    to HTTPS. Neither answer holds anything a Host header could poison, and
    neither needs a session, a user or a CSRF token.
    """

    PATHS = {"/health/live": "health_live", "/health/ready": "health_ready"}

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        view_name = self.PATHS.get(request.path_info)
        if view_name is None:
            return self.get_response(request)
        from portfolio import views  # imports the app: not while settings load

        return getattr(views, view_name)(request)
