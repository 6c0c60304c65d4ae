"""Upload rates: 429 with Retry-After, per client address, counted in the shared cache."""

import pytest
from django.test import override_settings

from classifiers.models import Prediction
from tests.classifiers.api.conftest import upload


def _rates(anon: str = "2/hour", user: str = "1000/hour"):
    return override_settings(UPLOAD_ANON_RATE=anon, UPLOAD_USER_RATE=user)


@pytest.fixture
def two_an_hour():
    with _rates(anon="2/hour"):
        yield


def _from(address: str, **headers) -> dict:
    return {"REMOTE_ADDR": address, **headers}


def test_it_answers_429_with_retry_after_past_the_anonymous_rate(anon, demos, two_an_hour):
    for _ in range(2):
        assert upload(anon, **_from("198.51.100.7")).status_code == 202
    response = upload(anon, **_from("198.51.100.7"))
    assert response.status_code == 429
    retry_after = int(response["Retry-After"])
    assert 0 < retry_after <= 3600
    assert response.json() == {
        "error": f"Request was throttled. Expected available in {retry_after} seconds.",
        "code": "throttled",
        "retry_after": retry_after,
    }
    assert Prediction.objects.count() == 2


def test_it_is_not_reset_by_a_forged_x_forwarded_for(anon, demos, two_an_hour):
    for _ in range(2):
        upload(anon, **_from("198.51.100.7"))
    for forged in ("203.0.113.1", "203.0.113.2, 198.51.100.7", "10.0.0.1"):
        response = upload(anon, **_from("198.51.100.7", HTTP_X_FORWARDED_FOR=forged))
        assert response.status_code == 429, forged
        assert response.has_header("Retry-After")


def test_it_counts_each_client_address_apart(anon, demos, two_an_hour):
    for _ in range(2):
        upload(anon, **_from("198.51.100.7"))
    assert upload(anon, **_from("198.51.100.8")).status_code == 202


def test_it_does_not_throttle_reading(anon, demos, two_an_hour):
    first = upload(anon, **_from("198.51.100.7")).json()["id"]
    upload(anon, **_from("198.51.100.7"))
    assert upload(anon, **_from("198.51.100.7")).status_code == 429
    for _ in range(5):
        assert anon.get(f"/api/v1/predictions/{first}/", **_from("198.51.100.7")).status_code == 200
        assert anon.get("/api/v1/demos/", **_from("198.51.100.7")).status_code == 200


def test_it_counts_an_account_by_its_own_rate_not_its_address(alice_api, anon, demos):
    with _rates(anon="1/hour", user="3/hour"):
        assert upload(anon, **_from("198.51.100.7")).status_code == 202
        for _ in range(3):
            assert upload(alice_api, **_from("198.51.100.7")).status_code == 202
        response = upload(alice_api, **_from("198.51.100.9"))
        assert response.status_code == 429
        assert response.has_header("Retry-After")
