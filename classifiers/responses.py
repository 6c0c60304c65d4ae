"""Responses shared by the pages and the API."""

from __future__ import annotations

from django.http import FileResponse, Http404, HttpRequest, JsonResponse

from classifiers.inference.refusals import Refused


def wants_json(request: HttpRequest) -> bool:
    """The demo page's script asks for JSON; a browser without it gets pages."""
    return "application/json" in request.headers.get("Accept", "")


def refusal_json(exc: Refused) -> JsonResponse:
    """A refusal as the API says it: ``{"error", "code"[, "retry_after"]}``."""
    body: dict = {"error": exc.message, "code": exc.code}
    if exc.retry_after is not None:
        body["retry_after"] = exc.retry_after
    response = JsonResponse(body, status=exc.status)
    if exc.retry_after is not None:
        response["Retry-After"] = str(exc.retry_after)
    return response


def private_file_response(field_file, content_type: str) -> FileResponse:
    """A stored upload (or its heatmap) for the one person allowed to see it."""
    if not field_file:
        raise Http404("no such file")
    try:
        handle = field_file.open("rb")
    except FileNotFoundError as exc:
        raise Http404("file not found") from exc
    response = FileResponse(handle, content_type=content_type)
    response["Cache-Control"] = "private, max-age=3600"  # never in a shared cache
    return response
