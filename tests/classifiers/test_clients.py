"""Telling clients apart, once for the pages and the API (classifiers.clients)."""

from django.conf import settings
from django.contrib.auth.models import AnonymousUser
from django.test import RequestFactory, override_settings

from classifiers.clients import client_address, client_key


def _request(address: str = "198.51.100.7", forwarded: str | None = None, user=None):
    extra = {"REMOTE_ADDR": address}
    if forwarded is not None:
        extra["HTTP_X_FORWARDED_FOR"] = forwarded
    request = RequestFactory().get("/", **extra)
    request.user = user or AnonymousUser()
    return request


def _proxies(count: int):
    return override_settings(REST_FRAMEWORK={**settings.REST_FRAMEWORK, "NUM_PROXIES": count})


def test_it_ignores_x_forwarded_for_when_no_proxy_is_trusted():
    for forged in ("203.0.113.1", "203.0.113.2, 198.51.100.7"):
        assert client_address(_request(forwarded=forged)) == "198.51.100.7"
        assert client_key(_request(forwarded=forged)) == client_key(_request())


def test_it_takes_the_address_our_outermost_proxy_saw():
    with _proxies(1):
        # The client wrote the first entry itself; our proxy appended the second.
        request = _request("10.0.0.2", forwarded="203.0.113.1, 198.51.100.7")
        assert client_address(request) == "198.51.100.7"
    with _proxies(2):
        request = _request("10.0.0.2", forwarded="203.0.113.1, 198.51.100.7, 10.0.0.1")
        assert client_address(request) == "198.51.100.7"


def test_it_keys_an_account_by_its_id_wherever_it_connects_from(db, alice):
    assert client_key(_request("198.51.100.7", user=alice)) == f"user:{alice.pk}"
    assert client_key(_request("203.0.113.9", user=alice)) == f"user:{alice.pk}"


def test_it_keys_an_address_by_a_keyed_hash_never_the_address():
    key = client_key(_request("198.51.100.7"))
    assert key.startswith("addr:")
    assert "198.51.100.7" not in key
    assert len(key) <= 64  # Prediction.client_key
    assert key != client_key(_request("198.51.100.8"))
    with override_settings(SECRET_KEY="another-secret-key-" * 3):
        assert client_key(_request("198.51.100.7")) != key


def test_it_counts_an_ipv6_network_as_one_client():
    """One home or phone is given a /64: each of its addresses is no new client."""
    home = client_key(_request("2001:db8:1:2::1"))
    assert client_key(_request("2001:db8:1:2:ffff:1:2:3")) == home
    assert client_key(_request("2001:db8:1:3::1")) != home
    assert client_key(_request("::ffff:198.51.100.7")) == client_key(_request("198.51.100.7"))
