"""GET /api/v1/staff/queue/: the queue page's figures as JSON, for staff."""

from __future__ import annotations

import pytest
from django.utils import timezone
from rest_framework.authtoken.models import Token

from classifiers.models import Demo, ModelVersion, PredictionStatus
from tests.classifiers.monitoring.conftest import make_answer, make_row, seconds

pytestmark = pytest.mark.django_db
URL = "/api/v1/staff/queue/"


def _token(user) -> dict:
    return {"HTTP_AUTHORIZATION": f"Token {Token.objects.create(user=user).key}"}


def test_it_asks_an_anonymous_client_to_authenticate(client):
    response = client.get(URL)
    assert response.status_code == 401
    assert response.json()["code"] == "not_authenticated"


def test_it_refuses_an_account_that_is_not_staff(client, alice):
    response = client.get(URL, **_token(alice))
    assert response.status_code == 403
    assert response.json()["code"] == "permission_denied"


def test_it_gives_a_staff_token_the_figures(client, staff):
    demo = Demo.objects.create(slug="d", title="D", summary="", kind="imagenet-subset")
    version = ModelVersion.objects.create(demo=demo, number=1, name="Lite0", artifact="a.keras")
    now = timezone.now()
    make_row(demo, status=PredictionStatus.QUEUED, created=now - seconds(12))
    make_answer(demo, version, finished=now - seconds(30), upload_to_answer=3, claim_to_answer=1)
    make_row(demo, version=version, status=PredictionStatus.FAILED, created=now, started=now,
             finished=now, error="Boom.")  # fmt: skip

    response = client.get(URL, **_token(staff))
    assert response.status_code == 200
    body = response.json()
    assert body["depth"]["queued"] == 1
    assert body["depth"]["oldest_queued_seconds"] >= 12
    assert body["workers"]["busy"] == 0
    assert (body["answered"], body["failed"]) == (1, 1)
    assert len(body["buckets"]) == 12 and len(body["minutes"]) == 60
    assert body["upload_to_answer"] == {"count": 1, "p50_seconds": 3.0, "p95_seconds": 3.0}
    assert body["claim_to_answer"]["p50_seconds"] == 1.0
    assert body["versions"] == [
        {
            "demo": "d",
            "version": 1,
            "version_name": "Lite0",
            "finished": 2,
            "failed": 1,
            "failure_rate": 0.5,
            "top_error": "Boom.",
            "top_error_count": 1,
        }
    ]
    assert body["warnings"] == []
    assert body["window_seconds"] >= 59 * 60


def test_a_signed_in_staff_browser_may_read_it_too(client, staff):
    client.force_login(staff)
    response = client.get(URL)
    assert response.status_code == 200
    assert response.json()["depth"] == {
        "queued": 0,
        "running": 0,
        "oldest_queued_at": None,
        "oldest_queued_seconds": None,
        "requeued": 0,
        "lost": 0,
    }


def test_it_is_in_the_schema(client):
    operation = client.get("/api/schema/?format=json").json()["paths"][URL]["get"]
    assert {"200", "401", "403"} <= set(operation["responses"])
