from __future__ import annotations

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from rest_framework.authtoken.models import Token
from rest_framework.test import APIClient

from tests.conftest import jpeg_bytes


@pytest.fixture
def anon():
    """A program with no credentials and no cookies."""
    return APIClient()


def token_client(user) -> APIClient:
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {Token.objects.create(user=user).key}")
    return client


@pytest.fixture
def alice_api(alice):
    return token_client(alice)


@pytest.fixture
def bob_api(bob):
    """The stranger, with a valid token of his own."""
    return token_client(bob)


def photo(data: bytes | None = None, name: str = "cat.jpg", content_type: str = "image/jpeg"):
    return SimpleUploadedFile(name, jpeg_bytes() if data is None else data, content_type)


def upload(client, demo: str = "cats-vs-dogs", data: bytes | None = None, **extra):
    return client.post(
        "/api/v1/predictions/", {"demo": demo, "image": photo(data)}, format="multipart", **extra
    )
