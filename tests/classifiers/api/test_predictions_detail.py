"""GET /api/v1/predictions/{id}/ and its image and heatmap."""

import pytest
from django.test import Client
from rest_framework.test import APIClient

from classifiers.predictions import services as prediction_services
from classifiers.predictions import worker as prediction_worker
from tests.classifiers.api.conftest import photo, upload
from tests.conftest import example_bytes, jpeg_bytes


@pytest.fixture
def mine(demos, alice):
    """Alice's prediction, made with her account."""
    return prediction_services.prediction_create(
        demo=demos["cats-vs-dogs"], data=jpeg_bytes(), filename="alices-cat.jpg", owner=alice
    )


def _url(prediction, tail: str = "") -> str:
    return f"/api/v1/predictions/{prediction.id}/{tail}"


def test_it_shows_the_owner_her_queued_prediction(alice_api, mine):
    response = alice_api.get(_url(mine))
    assert response.status_code == 200
    body = response.json()
    assert body["id"] == str(mine.id)
    assert body["url"] == f"http://testserver{_url(mine)}"
    assert body["demo"] == "cats-vs-dogs"
    assert (body["status"], body["finished"], body["result"], body["error"]) == (
        "queued",
        False,
        {},
        "",
    )
    assert body["model_version"] is None
    assert body["filename"] == "alices-cat.jpg"
    assert body["image_url"] == f"http://testserver{_url(mine, 'image/')}"
    assert body["heatmap_url"] is None
    assert body["started_at"] is None and body["finished_at"] is None
    assert body["duration_ms"] is None


def test_it_shows_the_answer_version_and_timings_once_done(alice_api, mine):
    assert prediction_worker.prediction_claim(prediction_id=mine.id)
    mine.refresh_from_db()
    outcome = {"status": "done", "label": "cat", "score": 0.93, "top": [{"label": "cat"}]}
    prediction_worker.prediction_finish(prediction=mine, outcome=outcome)
    body = alice_api.get(_url(mine)).json()
    served = mine.demo.promoted_version
    assert (body["status"], body["finished"]) == ("done", True)
    assert body["result"]["label"] == "cat"
    assert body["result"]["score"] == 0.93
    assert body["model_version"] == {"number": served.number, "name": served.name}
    assert body["started_at"] and body["finished_at"] and body["created_at"]
    assert body["duration_ms"] >= 0


def test_it_shows_a_failure_with_its_reason(alice_api, mine):
    prediction_worker.prediction_fail(prediction_id=mine.id, reason="The model took too long.")
    body = alice_api.get(_url(mine)).json()
    assert (body["status"], body["finished"]) == ("failed", True)
    assert body["error"] == "The model took too long."


def test_it_answers_404_to_a_stranger_with_a_token(bob_api, mine):
    for tail in ("", "image/", "heatmap/"):
        response = bob_api.get(_url(mine, tail))
        assert response.status_code == 404, tail
        assert response.json()["code"] == "not_found"


def test_it_answers_404_to_an_anonymous_client(anon, mine):
    assert anon.get(_url(mine)).status_code == 404
    assert anon.get(_url(mine, "image/")).status_code == 404


def test_it_lets_whoever_holds_the_id_read_an_anonymous_api_upload(anon, bob_api, demos):
    prediction_id = upload(anon).json()["id"]
    other_program = APIClient()  # no cookies, no token
    for client in (anon, other_program, bob_api):
        response = client.get(f"/api/v1/predictions/{prediction_id}/")
        assert response.status_code == 200
        assert response.json()["status"] == "queued"


def test_it_keeps_a_browsers_anonymous_uploads_to_that_browser(anon, demos):
    browser = Client()
    response = browser.post("/demos/cats-vs-dogs/", {"image": photo()})
    assert response.status_code == 302
    prediction_id = response["Location"].split("/")[2]
    assert browser.get(f"/api/v1/predictions/{prediction_id}/").status_code == 200
    assert anon.get(f"/api/v1/predictions/{prediction_id}/").status_code == 404


def test_it_serves_the_owner_the_stored_photo(alice_api, mine):
    response = alice_api.get(_url(mine, "image/"))
    assert response.status_code == 200
    assert response["Content-Type"] == "image/jpeg"
    assert b"".join(response.streaming_content)[:2] == b"\xff\xd8"


def test_it_serves_the_heatmap_once_there_is_one(alice_api, demos, alice):
    prediction = prediction_services.prediction_create(
        demo=demos["cats-vs-dogs"], data=example_bytes("golden-retriever.jpg"), owner=alice
    )
    assert alice_api.get(_url(prediction, "heatmap/")).status_code == 404
    prediction_worker.prediction_run(prediction_id=prediction.id)
    body = alice_api.get(_url(prediction)).json()
    assert body["heatmap_url"] == f"http://testserver{_url(prediction, 'heatmap/')}"
    response = alice_api.get(_url(prediction, "heatmap/"))
    assert response.status_code == 200
    assert response["Content-Type"] == "image/png"
