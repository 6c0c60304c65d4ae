"""Site-wide views that belong to no demo: sign-up, deleting an account, health checks."""

from django import forms
from django.contrib import messages
from django.contrib.auth import login, logout
from django.contrib.auth.decorators import login_required
from django.contrib.auth.forms import UserCreationForm
from django.db import connection
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import redirect, render
from django.template.defaultfilters import pluralize
from django.views.decorators.http import require_GET, require_http_methods

from classifiers import selectors
from classifiers.api import tokens
from classifiers.predictions import services as prediction_services
from portfolio import health


@require_http_methods(["GET", "POST"])
def signup(request: HttpRequest) -> HttpResponse:
    form = UserCreationForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        user = form.save()
        # login() fires user_logged_in, which moves this browser's predictions over.
        login(request, user, backend="django.contrib.auth.backends.ModelBackend")
        return redirect("classifiers:history")
    return render(request, "registration/signup.html", {"form": form})


@require_GET
def healthz(request: HttpRequest) -> JsonResponse:
    with connection.cursor() as cursor:
        cursor.execute("SELECT 1")
    return JsonResponse({"ok": True})


@require_GET
def health_live(request: HttpRequest) -> JsonResponse:
    """The process answers. Nothing else is asked: a restart cures nothing a
    database or broker outage causes (that is readiness)."""
    return JsonResponse({"ok": True})


@require_GET
def health_ready(request: HttpRequest) -> JsonResponse:
    """Whether an upload would be answered now: database, broker and a worker
    that finished a task recently (portfolio/health.py). 503 names the checks
    that failed, so a load balancer sends no one here and a person sees why."""
    checks = health.readiness()
    failed = [check.name for check in checks if not check.ok]
    response = JsonResponse(
        {
            "ok": not failed,
            "failed": failed,
            "checks": {check.name: check.as_dict() for check in checks},
        },
        status=503 if failed else 200,
    )
    response["Cache-Control"] = "no-store"
    return response


class AccountDeleteForm(forms.Form):
    """The password again: a session left open on a shared computer must not
    be enough to delete an account."""

    password = forms.CharField(
        label="Your password", strip=False, widget=forms.PasswordInput(attrs={"autofocus": True})
    )

    def __init__(self, *args, user, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.user = user

    def clean_password(self) -> str:
        password = self.cleaned_data["password"]
        if not self.user.check_password(password):
            raise forms.ValidationError("That is not your password.")
        return password


@login_required
@require_http_methods(["GET", "POST"])
def account_delete(request: HttpRequest) -> HttpResponse:
    """Delete the account and everything of it, once the password is given again."""
    user = request.user
    form = AccountDeleteForm(request.POST or None, user=user)
    if request.method == "POST" and form.is_valid():
        count = prediction_services.account_delete(user=user)
        logout(request)
        messages.success(
            request,
            f"Your account, its {count} prediction{pluralize(count)} with their photos, "
            "and its API token are deleted.",
        )
        return redirect("classifiers:gallery")
    return render(
        request,
        "accounts/delete.html",
        {
            "form": form,
            "prediction_count": selectors.prediction_list(user=user).count(),
            "has_token": tokens.token_get(user=user) is not None,
        },
        status=400 if form.is_bound else 200,
    )
