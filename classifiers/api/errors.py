"""Every API error is JSON: ``{"error": message, "code": short code, ...}``.

DRF's exception handler answers for exceptions raised inside API views; the
site's handler404/handler500 (portfolio/urls.py) use ``page_not_found`` and
``server_error`` below, so a URL under /api/ that matches no view, or a bug,
is answered in JSON too rather than with an HTML page.
"""

from __future__ import annotations

from django.core.exceptions import RequestDataTooBig, SuspiciousOperation
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.views import defaults
from rest_framework import exceptions, status
from rest_framework.response import Response
from rest_framework.views import exception_handler as drf_exception_handler

from classifiers.inference.refusals import Refused

API_PATH_PREFIX = "/api/"


class PayloadTooLarge(exceptions.APIException):
    status_code = status.HTTP_413_REQUEST_ENTITY_TOO_LARGE
    default_detail = "The upload is too large."
    default_code = "too_large"


class RefusedError(exceptions.APIException):
    """A service's refusal, said in HTTP: its status, message and code."""

    def __init__(self, refusal: Refused) -> None:
        super().__init__(refusal.message, refusal.code)
        self.status_code = refusal.status
        if refusal.retry_after is not None:
            self.wait = refusal.retry_after  # DRF's handler turns it into Retry-After


def _as_api_exception(exc: Exception) -> Exception:
    if isinstance(exc, Refused):
        return RefusedError(exc)
    if isinstance(exc, RequestDataTooBig):
        return PayloadTooLarge("The request body is too large.")
    if isinstance(exc, SuspiciousOperation):
        return exceptions.ParseError("The request could not be read.")
    return exc


def _field_messages(detail, prefix: str = "") -> list[str]:
    if isinstance(detail, dict):
        return [
            message
            for field, value in detail.items()
            for message in _field_messages(
                value, "" if field in ("non_field_errors", "detail") else f"{prefix}{field}: "
            )
        ]
    if isinstance(detail, list):
        return [message for value in detail for message in _field_messages(value, prefix)]
    return [f"{prefix}{detail}"]


def exception_handler(exc: Exception, context: dict) -> Response | None:
    exc = _as_api_exception(exc)
    response = drf_exception_handler(exc, context)
    if response is None:
        return None  # a bug: Django logs it and answers with server_error below
    if isinstance(exc, exceptions.ValidationError):
        fields = exc.detail if isinstance(exc.detail, dict) else {"non_field_errors": exc.detail}
        body = {"error": " ".join(_field_messages(fields)), "code": "invalid", "fields": fields}
    else:
        detail = exc.detail if isinstance(exc, exceptions.APIException) else response.data
        if isinstance(detail, dict) and "detail" in detail:
            detail = detail["detail"]
        body = {
            "error": str(detail),
            "code": getattr(detail, "code", None) or getattr(exc, "default_code", "error"),
        }
    if "Retry-After" in response.headers:
        body["retry_after"] = int(response.headers["Retry-After"])
    response.data = body
    return response


def _is_api(request: HttpRequest) -> bool:
    return request.path.startswith(API_PATH_PREFIX)


def page_not_found(request: HttpRequest, exception: Exception) -> HttpResponse:
    if _is_api(request):
        return JsonResponse({"error": "Not found.", "code": "not_found"}, status=404)
    return defaults.page_not_found(request, exception)


def bad_request(request: HttpRequest, exception: Exception) -> HttpResponse:
    if _is_api(request):
        return JsonResponse({"error": "Bad request.", "code": "bad_request"}, status=400)
    return defaults.bad_request(request, exception)


def permission_denied(request: HttpRequest, exception: Exception) -> HttpResponse:
    if _is_api(request):
        return JsonResponse({"error": "Forbidden.", "code": "permission_denied"}, status=403)
    return defaults.permission_denied(request, exception)


def server_error(request: HttpRequest) -> HttpResponse:
    if _is_api(request):
        return JsonResponse({"error": "Server error.", "code": "server_error"}, status=500)
    return defaults.server_error(request)
