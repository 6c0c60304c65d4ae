"""End to end through a real Celery worker process, PostgreSQL and Redis.

No eager mode: the upload is queued on the broker, a separate worker process
claims the row, runs the Keras model and stores the result, and the test
reads it back through the status URL like the browser does.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import pytest
from django.conf import settings
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import connection

from classifiers.models import Prediction
from tests.conftest import REPO, example_bytes

pytestmark = [pytest.mark.worker]

WAIT_LIMIT_S = 240  # a bound so a broken worker fails the test instead of hanging it


def _database_url() -> str:
    db = connection.settings_dict
    user = db.get("USER") or "postgres"
    password = f":{db['PASSWORD']}" if db.get("PASSWORD") else ""
    return f"postgres://{user}{password}@{db['HOST']}:{db['PORT']}/{db['NAME']}"


@pytest.fixture(scope="module")
def celery_worker(django_db_setup, django_db_blocker, _private_media_root: Path):
    if connection.vendor != "postgresql" or not settings.CELERY_BROKER_URL.startswith("redis"):
        pytest.skip("the worker tests need DATABASE_URL (PostgreSQL) and CELERY_BROKER_URL (Redis)")
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "portfolio.test_settings",
        "DATABASE_URL": _database_url(),  # the test database pytest-django created
        "DJANGO_MEDIA_ROOT": str(_private_media_root),
        "CELERY_BROKER_URL": settings.CELERY_BROKER_URL,
    }
    log = (_private_media_root / "worker.log").open("w")
    worker = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "celery",
            "-A",
            "portfolio",
            "worker",
            "--concurrency=1",
            "--loglevel=INFO",
            "--without-gossip",
            "--without-mingle",
            "--without-heartbeat",
        ],
        cwd=REPO,
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    yield worker
    worker.terminate()
    try:
        worker.wait(timeout=30)
    except subprocess.TimeoutExpired:
        worker.kill()
    log.close()


def _wait_until_finished(client, status_url: str, worker) -> dict:
    deadline = time.monotonic() + WAIT_LIMIT_S
    while time.monotonic() < deadline:
        assert worker.poll() is None, "the worker process died"
        payload = client.get(status_url, HTTP_ACCEPT="application/json").json()
        if payload["finished"]:
            return payload
        time.sleep(0.5)
    raise AssertionError(f"no result within {WAIT_LIMIT_S}s; see the worker log")


@pytest.mark.django_db(transaction=True)
def test_it_answers_an_upload_through_the_real_worker(client, demos, alice, celery_worker):
    client.force_login(alice)
    photo = SimpleUploadedFile("cat.jpg", example_bytes("cat.jpg"), content_type="image/jpeg")
    response = client.post("/demos/cats-vs-dogs/", {"image": photo}, HTTP_ACCEPT="application/json")
    assert response.status_code == 202
    created = response.json()
    assert created["status"] == "queued"

    payload = _wait_until_finished(client, created["status_url"], celery_worker)

    assert payload["status"] == "done"
    assert payload["result"]["label"] == "cat"
    assert payload["model_version"] == demos["cats-vs-dogs"].promoted_version.number
    prediction = Prediction.objects.get(id=created["id"])
    assert prediction.owner == alice
    assert prediction.model_version == demos["cats-vs-dogs"].promoted_version
    assert prediction.attempts == 1
    assert prediction.started_at and prediction.finished_at
    page = client.get("/history/").content.decode()
    assert "cat (" in page


@pytest.mark.django_db(transaction=True)
def test_it_does_nothing_twice_when_a_task_is_delivered_again(client, demos, celery_worker):
    from classifiers.tasks import run_prediction

    photo = SimpleUploadedFile("dog.jpg", example_bytes("golden-retriever.jpg"))
    created = client.post(
        "/demos/cats-vs-dogs/", {"image": photo}, HTTP_ACCEPT="application/json"
    ).json()
    payload = _wait_until_finished(client, created["status_url"], celery_worker)
    assert payload["result"]["label"] == "dog"

    run_prediction.delay(created["id"])  # a redelivery, as after a lost ack
    # A second, later upload finishing proves the redelivered task was consumed first.
    later = client.post(
        "/demos/cats-vs-dogs/",
        {"image": SimpleUploadedFile("c.jpg", example_bytes("cat.jpg"))},
        HTTP_ACCEPT="application/json",
    ).json()
    _wait_until_finished(client, later["status_url"], celery_worker)
    prediction = Prediction.objects.get(id=created["id"])
    assert prediction.attempts == 1
    assert prediction.result["label"] == "dog"


@pytest.mark.django_db(transaction=True)
def test_it_records_a_clear_failure_when_the_stored_image_is_gone(client, demos, celery_worker):
    photo = SimpleUploadedFile("cat.jpg", example_bytes("cat.jpg"))
    with pytest.MonkeyPatch.context() as mp:
        # Hold the task back until the image is deleted: enqueue manually afterwards.
        mp.setattr("classifiers.tasks.run_prediction.delay", lambda *a, **k: None)
        created = client.post(
            "/demos/cats-vs-dogs/", {"image": photo}, HTTP_ACCEPT="application/json"
        ).json()
    prediction = Prediction.objects.get(id=created["id"])
    prediction.image.storage.delete(prediction.image.name)
    from classifiers.tasks import run_prediction

    run_prediction.delay(created["id"])
    payload = _wait_until_finished(client, created["status_url"], celery_worker)
    assert payload["status"] == "failed"
    assert "could not process this image" in payload["error"]
