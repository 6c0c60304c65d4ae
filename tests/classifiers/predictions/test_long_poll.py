"""A status request with ?wait= is held until the answer is stored, woken by
the worker over Redis (classifiers/predictions/ready.py); without Redis, or
with every waiting slot taken, it is answered at once as before."""

import os
import threading

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import override_settings
from rest_framework.test import APIClient

from classifiers.models import Prediction, PredictionStatus
from classifiers.predictions import ready
from classifiers.predictions.worker import prediction_finish
from tests.conftest import jpeg_bytes

REDIS_URL = os.environ.get("CELERY_BROKER_URL", "")
needs_redis = pytest.mark.skipif(
    not REDIS_URL.startswith("redis://"), reason="long polls need Redis (CELERY_BROKER_URL)"
)


@pytest.fixture(autouse=True)
def _fresh_signal():
    ready._redis.cache_clear()
    ready._slots.cache_clear()
    yield
    ready._redis.cache_clear()
    ready._slots.cache_clear()


def _upload(client: APIClient) -> str:
    response = client.post(
        "/api/v1/predictions/",
        {"demo": "cats-vs-dogs", "image": SimpleUploadedFile("cat.jpg", jpeg_bytes())},
    )
    assert response.status_code == 202, response.content
    return response.json()["id"]


def _answer_soon(prediction_id: str, started: threading.Event) -> threading.Thread:
    """A stand-in worker: claims the row and stores an answer once the
    request is waiting (``started`` is set by the subscription)."""

    def work():
        started.wait(10)
        Prediction.objects.filter(id=prediction_id).update(status=PredictionStatus.RUNNING)
        prediction = Prediction.objects.get(id=prediction_id)
        prediction_finish(
            prediction=prediction,
            outcome={"status": PredictionStatus.DONE, "label": "cat", "details": {}},
        )

    thread = threading.Thread(target=work)
    thread.start()
    return thread


@needs_redis
@pytest.mark.django_db(transaction=True)
def test_a_waiting_request_gets_the_answer_stored_meanwhile(demos, monkeypatch):
    client = APIClient()
    with override_settings(ANSWER_SIGNAL_URL=REDIS_URL):
        prediction_id = _upload(client)
        subscribed = threading.Event()

        def finished_then_signal(*args, **kwargs):
            # The request checks the row right after subscribing: let the
            # stand-in worker go from there.
            answer = original(*args, **kwargs)
            subscribed.set()
            return answer

        from classifiers import selectors

        original = selectors.prediction_is_finished
        monkeypatch.setattr(selectors, "prediction_is_finished", finished_then_signal)
        worker = _answer_soon(prediction_id, subscribed)
        response = client.get(f"/api/v1/predictions/{prediction_id}/", {"wait": 15})
        worker.join()

    body = response.json()
    assert response.status_code == 200
    assert body["finished"] is True
    assert body["status"] == "done"
    assert body["result"]["label"] == "cat"


@pytest.mark.django_db
def test_without_redis_a_wait_is_answered_at_once_with_when_to_ask_again(demos):
    client = APIClient()
    with override_settings(ANSWER_SIGNAL_URL=""):
        prediction_id = _upload(client)
        response = client.get(f"/api/v1/predictions/{prediction_id}/", {"wait": 15})

    body = response.json()
    assert body["finished"] is False
    assert body["queue"]["poll_after_ms"] > 0


@needs_redis
@pytest.mark.django_db
def test_when_every_waiting_slot_is_taken_the_request_is_answered_at_once(demos):
    client = APIClient()
    with override_settings(ANSWER_SIGNAL_URL=REDIS_URL, ANSWER_WAITERS=1):
        prediction_id = _upload(client)
        assert ready._slots().acquire(blocking=False)  # the one slot, held elsewhere
        try:
            response = client.get(f"/api/v1/predictions/{prediction_id}/", {"wait": 15})
        finally:
            ready._slots().release()

    assert response.json()["finished"] is False


@pytest.mark.django_db
@pytest.mark.parametrize("wait", ["-1", "soon"])
def test_a_bad_wait_is_a_clear_400(demos, wait):
    client = APIClient()
    prediction_id = _upload(client)

    response = client.get(f"/api/v1/predictions/{prediction_id}/", {"wait": wait})

    assert response.status_code == 400
    assert "wait" in response.json()["error"]


@pytest.mark.django_db
def test_a_strangers_prediction_stays_404_with_a_wait(demos, alice, bob):
    owner = APIClient()
    owner.force_authenticate(alice)
    prediction_id = _upload(owner)
    stranger = APIClient()
    stranger.force_authenticate(bob)

    response = stranger.get(f"/api/v1/predictions/{prediction_id}/", {"wait": 5})

    assert response.status_code == 404


@needs_redis
@pytest.mark.django_db(transaction=True)
def test_the_demo_pages_status_request_waits_too(demos, client, monkeypatch):
    with override_settings(ANSWER_SIGNAL_URL=REDIS_URL):
        response = client.post(
            "/demos/cats-vs-dogs/",
            {"image": SimpleUploadedFile("cat.jpg", jpeg_bytes())},
            headers={"accept": "application/json"},
        )
        status_url = response.json()["status_url"]
        prediction_id = response.json()["id"]
        subscribed = threading.Event()
        from classifiers import selectors

        original = selectors.prediction_is_finished

        def finished_then_signal(*args, **kwargs):
            answer = original(*args, **kwargs)
            subscribed.set()
            return answer

        monkeypatch.setattr(selectors, "prediction_is_finished", finished_then_signal)
        worker = _answer_soon(prediction_id, subscribed)
        answered = client.get(status_url, {"wait": 15}).json()
        worker.join()

    assert answered["finished"] is True
    assert "cat" in answered["html"]
