"""GET /api/v1/predictions/: an account's own, newest first, paginated."""

from datetime import timedelta

import pytest
from django.utils import timezone

from classifiers.models import Prediction
from classifiers.predictions import services as prediction_services
from tests.classifiers.api.conftest import upload
from tests.conftest import jpeg_bytes


@pytest.fixture
def alices(demos, alice):
    """Three of Alice's predictions, oldest first: two cats-vs-dogs, one dog-breeds."""
    made = [
        prediction_services.prediction_create(demo=demos[slug], data=jpeg_bytes(), owner=alice)
        for slug in ("cats-vs-dogs", "dog-breeds", "cats-vs-dogs")
    ]
    for age, prediction in zip((3, 2, 1), made, strict=True):
        Prediction.objects.filter(id=prediction.id).update(
            created_at=timezone.now() - timedelta(minutes=age)
        )
    return made


def _ids(body) -> list[str]:
    return [p["id"] for p in body["results"]]


def test_it_lists_the_owners_predictions_newest_first(alice_api, alices, anon):
    upload(anon)  # an anonymous upload is nobody's
    response = alice_api.get("/api/v1/predictions/")
    assert response.status_code == 200
    body = response.json()
    assert body["count"] == 3
    assert _ids(body) == [str(p.id) for p in reversed(alices)]
    assert body["results"][0]["status"] == "queued"


def test_it_filters_by_demo(alice_api, alices):
    body = alice_api.get("/api/v1/predictions/", {"demo": "dog-breeds"}).json()
    assert _ids(body) == [str(alices[1].id)]
    assert alice_api.get("/api/v1/predictions/", {"demo": "no-such-demo"}).json()["count"] == 0


def test_it_pages_the_list(alice_api, alices):
    first = alice_api.get("/api/v1/predictions/", {"page_size": 2}).json()
    assert (first["count"], len(first["results"])) == (3, 2)
    second = alice_api.get(first["next"]).json()
    assert _ids(second) == [str(alices[0].id)]
    missing = alice_api.get("/api/v1/predictions/", {"page": 9})
    assert missing.status_code == 404
    assert missing.json()["code"] == "not_found"


def test_it_shows_a_stranger_an_empty_list(bob_api, alices):
    body = bob_api.get("/api/v1/predictions/").json()
    assert (body["count"], body["results"]) == (0, [])


def test_it_does_not_list_anything_to_an_anonymous_client(anon, alices):
    upload(anon)
    response = anon.get("/api/v1/predictions/")
    assert response.status_code == 401
    assert response.json()["code"] == "not_authenticated"
    assert response["WWW-Authenticate"] == "Token"
