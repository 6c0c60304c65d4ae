"""The account page where a user creates, reads and revokes their API token."""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_http_methods

from classifiers.api import tokens


@login_required
@require_http_methods(["GET", "POST"])
def token_page(request: HttpRequest) -> HttpResponse:
    if request.method == "POST":
        action = request.POST.get("action")
        if action == "create":
            tokens.token_create(user=request.user)
            messages.success(request, "Your API token is ready.")
        elif action == "revoke":
            if tokens.token_revoke(user=request.user):
                messages.success(request, "Token revoked: programs using it are refused now.")
        else:
            return HttpResponse("Unknown action.", status=400)
        # Post/redirect/get: a reload does not post again.
        return redirect("api-token")
    return render(request, "accounts/token.html", {"token": tokens.token_get(user=request.user)})
