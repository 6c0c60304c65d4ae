"""/accounts/token/: a user creates, sees and revokes the token their programs use."""

import pytest
from rest_framework.authtoken.models import Token
from rest_framework.test import APIClient


@pytest.fixture
def signed_in(client, alice):
    client.force_login(alice)
    return client


def test_it_asks_an_anonymous_visitor_to_log_in(client, db):
    response = client.get("/accounts/token/")
    assert response.status_code == 302
    assert response["Location"].startswith("/accounts/login/")


def test_it_offers_to_create_a_token(signed_in):
    html = signed_in.get("/accounts/token/").content.decode()
    assert "You have no API token." in html
    assert 'value="create"' in html


def test_it_creates_a_token_that_the_api_accepts(signed_in, alice, demos):
    response = signed_in.post("/accounts/token/", {"action": "create"})
    assert response.status_code == 302
    key = Token.objects.get(user=alice).key
    html = signed_in.get(response["Location"]).content.decode()
    assert key in html
    assert 'value="revoke"' in html
    program = APIClient()
    program.credentials(HTTP_AUTHORIZATION=f"Token {key}")
    assert program.get("/api/v1/predictions/").status_code == 200


def test_it_keeps_the_token_when_asked_to_create_again(signed_in, alice):
    signed_in.post("/accounts/token/", {"action": "create"})
    key = Token.objects.get(user=alice).key
    signed_in.post("/accounts/token/", {"action": "create"})
    assert Token.objects.get(user=alice).key == key


def test_it_revokes_the_token(signed_in, alice, db):
    signed_in.post("/accounts/token/", {"action": "create"})
    key = Token.objects.get(user=alice).key
    response = signed_in.post("/accounts/token/", {"action": "revoke"})
    assert response.status_code == 302
    assert not Token.objects.filter(user=alice).exists()
    program = APIClient()
    program.credentials(HTTP_AUTHORIZATION=f"Token {key}")
    assert program.get("/api/v1/predictions/").status_code == 401
    assert "You have no API token." in signed_in.get("/accounts/token/").content.decode()


def test_it_never_shows_a_stranger_someone_elses_token(client, alice, bob):
    alices = Token.objects.create(user=alice)
    client.force_login(bob)
    html = client.get("/accounts/token/").content.decode()
    assert alices.key not in html
    client.post("/accounts/token/", {"action": "revoke"})
    assert Token.objects.filter(key=alices.key).exists()


def test_it_refuses_an_unknown_action(signed_in):
    assert signed_in.post("/accounts/token/", {"action": "steal"}).status_code == 400


def test_it_needs_the_csrf_token_to_change_anything(alice):
    from django.test import Client

    browser = Client(enforce_csrf_checks=True)
    browser.force_login(alice)
    assert browser.post("/accounts/token/", {"action": "create"}).status_code == 403
    assert not Token.objects.filter(user=alice).exists()


def test_it_is_linked_from_the_navigation(signed_in):
    assert 'href="/accounts/token/"' in signed_in.get("/history/").content.decode()
