"""New uploads get 503 with Retry-After while too many predictions wait for a worker."""

from datetime import timedelta

import pytest
from django.test import override_settings
from django.utils import timezone

from classifiers.models import Prediction, PredictionStatus
from classifiers.predictions import services as prediction_services
from classifiers.predictions import worker as prediction_worker
from tests.classifiers.api.conftest import upload
from tests.conftest import jpeg_bytes


@pytest.fixture
def two_waiting(demos, alice):
    return [
        prediction_services.prediction_create(
            demo=demos["cats-vs-dogs"], data=jpeg_bytes(), owner=alice
        )
        for _ in range(2)
    ]


@override_settings(QUEUE_MAX_DEPTH=2, QUEUE_RETRY_AFTER=45)
def test_it_answers_503_with_retry_after_when_the_queue_is_full(anon, alice_api, two_waiting):
    for client in (anon, alice_api):
        response = upload(client)
        assert response.status_code == 503
        assert response["Retry-After"] == "45"
        assert response.json() == {
            "error": "The models are busy with other uploads; please try again in a minute.",
            "code": "queue_full",
            "retry_after": 45,
        }
    assert Prediction.objects.count() == 2


@override_settings(QUEUE_MAX_DEPTH=2)
def test_it_takes_uploads_again_as_workers_catch_up(anon, two_waiting):
    Prediction.objects.filter(id=two_waiting[0].id).update(status=PredictionStatus.RUNNING)
    assert upload(anon).status_code == 202


@override_settings(QUEUE_MAX_DEPTH=2, QUEUE_WINDOW_SECONDS=600)
def test_it_does_not_count_uploads_a_broker_lost_long_ago(anon, two_waiting):
    Prediction.objects.filter(id=two_waiting[0].id).update(
        created_at=timezone.now() - timedelta(minutes=11)
    )
    assert upload(anon).status_code == 202


@override_settings(QUEUE_MAX_DEPTH=2)
def test_it_does_not_count_finished_predictions(anon, two_waiting):
    for prediction in two_waiting:
        prediction_worker.prediction_fail(prediction_id=prediction.id, reason="test")
    assert upload(anon).status_code == 202


@override_settings(QUEUE_MAX_PER_CLIENT=2, QUEUE_MAX_DEPTH=200)
def test_it_answers_429_to_a_client_with_too_many_photos_waiting_not_to_others(
    anon, alice_api, demos
):
    for _ in range(2):
        assert upload(anon, REMOTE_ADDR="198.51.100.7").status_code == 202

    response = upload(anon, REMOTE_ADDR="198.51.100.7")

    assert response.status_code == 429
    assert response["Retry-After"] == "15"
    assert response.json() == {
        "error": "You have 2 photos waiting for an answer; please wait for them "
        "before sending more.",
        "code": "too_many_waiting",
        "retry_after": 15,
    }
    assert upload(anon, REMOTE_ADDR="198.51.100.8").status_code == 202
    assert upload(alice_api, REMOTE_ADDR="198.51.100.7").status_code == 202


@override_settings(QUEUE_MAX_DEPTH=0)
def test_it_answers_404_for_an_unknown_demo_even_when_the_queue_is_full(anon, demos):
    response = upload(anon, demo="no-such-demo")
    assert response.status_code == 404
    assert response.json()["code"] == "not_found"
    assert upload(anon).status_code == 503
