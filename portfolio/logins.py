"""What the login pages need beyond Django's own views: the address and the
refusal of django-axes' lockout of a username and address, and password reset
only when the site can send mail (settings.PASSWORD_RESET_BY_MAIL)."""

from __future__ import annotations

import ipaddress
from collections.abc import Callable
from functools import wraps

from django.conf import settings
from django.contrib.auth import views as auth_views
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import render

from classifiers import clients


def client_address(request: HttpRequest) -> str | None:
    """The address a login attempt is counted against (AXES_CLIENT_IP_CALLABLE):
    told apart as upload limits tell clients apart (classifiers.clients:
    REMOTE_ADDR, or X-Forwarded-For as far as API_NUM_PROXIES trusted proxies
    wrote it), so behind a proxy every visitor is not one address that one
    guesser locks out."""
    address = clients.client_address(request)
    try:
        return str(ipaddress.ip_address(address))
    except ValueError:
        return request.META.get("REMOTE_ADDR")


def locked_out(request: HttpRequest, original_response=None, credentials=None) -> HttpResponse:
    """django-axes' lockout response (AXES_LOCKOUT_CALLABLE), for the site's and
    the admin's login alike: how long to wait, never how many tries were left."""
    minutes = round(settings.AXES_COOLOFF_TIME * 60)
    return render(request, "registration/locked_out.html", {"minutes": minutes}, status=429)


def mail_required(view: Callable) -> Callable:
    """A password-reset page exists only when mail is configured: without it the
    site would say "sent" and send nothing."""

    @wraps(view)
    def wrapper(request: HttpRequest, *args, **kwargs) -> HttpResponse:
        if not settings.PASSWORD_RESET_BY_MAIL:
            raise Http404("Password reset by mail is not set up on this site.")
        return view(request, *args, **kwargs)

    return wrapper


class LoginView(auth_views.LoginView):
    """Django's login page, offering password reset only when it can work."""

    def get_context_data(self, **kwargs):
        return {
            **super().get_context_data(**kwargs),
            "password_reset_by_mail": settings.PASSWORD_RESET_BY_MAIL,
        }
