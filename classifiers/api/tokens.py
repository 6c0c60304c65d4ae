"""API tokens: one per account, created and revoked by its owner on /accounts/token/."""

from __future__ import annotations

from rest_framework.authtoken.models import Token


def token_get(*, user) -> Token | None:
    return Token.objects.filter(user=user).first()


def token_create(*, user) -> Token:
    """The account's token; an existing one is kept (revoke it to replace it)."""
    token, _ = Token.objects.get_or_create(user=user)
    return token


def token_revoke(*, user) -> bool:
    """Delete the account's token: clients using it get 401 from now on."""
    deleted, _ = Token.objects.filter(user=user).delete()
    return deleted > 0
