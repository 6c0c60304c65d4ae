"""End to end through a real Celery worker process, PostgreSQL and Redis.

No eager mode: the upload is queued on the broker, a separate worker process
claims the row, runs the Keras model and stores the result, and the test
reads it back through the status URL like the browser does.
"""

from __future__ import annotations

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from classifiers.models import Prediction
from tests.conftest import example_bytes
from tests.workers import wait_until_finished

pytestmark = [pytest.mark.worker]


@pytest.mark.django_db(transaction=True)
def test_it_answers_an_upload_through_the_real_worker(client, demos, alice, celery_worker):
    client.force_login(alice)
    photo = SimpleUploadedFile("cat.jpg", example_bytes("cat.jpg"), content_type="image/jpeg")
    response = client.post("/demos/cats-vs-dogs/", {"image": photo}, HTTP_ACCEPT="application/json")
    assert response.status_code == 202
    created = response.json()
    assert created["status"] == "queued"

    payload = wait_until_finished(client, created["status_url"], celery_worker)

    assert payload["status"] == "done"
    assert payload["result"]["label"] == "cat"
    assert payload["model_version"]["number"] == demos["cats-vs-dogs"].promoted_version.number
    prediction = Prediction.objects.get(id=created["id"])
    assert prediction.owner == alice
    assert prediction.model_version == demos["cats-vs-dogs"].promoted_version
    assert prediction.attempts == 1
    assert prediction.started_at and prediction.finished_at
    page = client.get("/history/").content.decode()
    assert "cat (" in page


@pytest.mark.django_db(transaction=True)
def test_it_does_nothing_twice_when_a_task_is_delivered_again(client, demos, celery_worker):
    from classifiers.predictions.tasks import run_prediction

    photo = SimpleUploadedFile("dog.jpg", example_bytes("golden-retriever.jpg"))
    created = client.post(
        "/demos/cats-vs-dogs/", {"image": photo}, HTTP_ACCEPT="application/json"
    ).json()
    payload = wait_until_finished(client, created["status_url"], celery_worker)
    assert payload["result"]["label"] == "dog"

    run_prediction.delay(created["id"])  # a redelivery, as after a lost ack
    # A second, later upload finishing proves the redelivered task was consumed first.
    later = client.post(
        "/demos/cats-vs-dogs/",
        {"image": SimpleUploadedFile("c.jpg", example_bytes("cat.jpg"))},
        HTTP_ACCEPT="application/json",
    ).json()
    wait_until_finished(client, later["status_url"], celery_worker)
    prediction = Prediction.objects.get(id=created["id"])
    assert prediction.attempts == 1
    assert prediction.result["label"] == "dog"


@pytest.mark.django_db(transaction=True)
def test_it_records_a_clear_failure_when_the_stored_image_is_gone(client, demos, celery_worker):
    photo = SimpleUploadedFile("cat.jpg", example_bytes("cat.jpg"))
    with pytest.MonkeyPatch.context() as mp:
        # Hold the task back until the image is deleted: enqueue manually afterwards.
        mp.setattr("classifiers.predictions.tasks.run_prediction.delay", lambda *a, **k: None)
        created = client.post(
            "/demos/cats-vs-dogs/", {"image": photo}, HTTP_ACCEPT="application/json"
        ).json()
    prediction = Prediction.objects.get(id=created["id"])
    prediction.image.storage.delete(prediction.image.name)
    from classifiers.predictions.tasks import run_prediction

    run_prediction.delay(created["id"])
    payload = wait_until_finished(client, created["status_url"], celery_worker)
    assert payload["status"] == "failed"
    assert "photo is missing from storage" in payload["error"]
    assert prediction.image.name not in payload["error"]  # no server paths shown
