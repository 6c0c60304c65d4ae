"""Worker deaths, with a real worker process, beat, Redis and PostgreSQL.

The worker loads ``tests.fault_hooks``: a prediction can be held in the
middle of its pipeline call (so a test kills it at a known moment) and a
photo 333 pixels wide kills its process every time, as an out-of-memory kill
would. Heartbeat, staleness and sweep are seconds here instead of tens of
seconds; every wait has a deadline, no test asserts a duration.
"""

from __future__ import annotations

import os
import signal
from pathlib import Path

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from classifiers.models import Prediction, PredictionStatus
from tests.conftest import example_bytes, jpeg_bytes
from tests.workers import (
    celery_beat_process,
    celery_worker_process,
    wait_for,
    wait_until_finished,
    worker_env,
)

pytestmark = [pytest.mark.worker]

STALE_S = 3
FAULTS = {
    "PREDICTION_HEARTBEAT_SECONDS": "0.5",
    "PREDICTION_STALE_SECONDS": str(STALE_S),
    "PREDICTION_SWEEP_SECONDS": "1",
    "PREDICTION_RESEND_SECONDS": "5",
    "PREDICTION_MAX_ATTEMPTS": "3",
    "FAULT_KILL_WIDTH": "333",
}


@pytest.fixture(scope="module")
def hold_dir(tmp_path_factory) -> Path:
    return tmp_path_factory.mktemp("hold")


@pytest.fixture(scope="module")
def faulty_worker(django_db_setup, django_db_blocker, _private_media_root, hold_dir):
    folder = hold_dir.parent
    env = worker_env(_private_media_root, FAULT_HOLD_DIR=str(hold_dir), **FAULTS)
    beat = celery_beat_process(env, folder).start()
    worker = celery_worker_process(
        env, folder / "faulty-worker.log", "--include=tests.fault_hooks"
    ).start()
    try:
        yield worker
    finally:
        worker.stop()
        beat.stop()


@pytest.fixture
def hold(hold_dir):
    """Hold the next prediction in its pipeline call until released."""
    for marker in hold_dir.glob("entered-*"):
        marker.unlink()
    (hold_dir / "hold").touch()
    yield hold_dir
    (hold_dir / "hold").unlink(missing_ok=True)


def _held_pid(hold_dir: Path) -> int:
    markers = wait_for(lambda: list(hold_dir.glob("entered-*")), "a prediction in its pipeline")
    return int(markers[0].name.removeprefix("entered-"))


def _upload(client, name: str, data: bytes) -> dict:
    response = client.post(
        "/demos/cats-vs-dogs/",
        {"image": SimpleUploadedFile(name, data, content_type="image/jpeg")},
        HTTP_ACCEPT="application/json",
    )
    assert response.status_code == 202
    return response.json()


@pytest.mark.django_db(transaction=True)
def test_it_answers_a_photo_whose_worker_was_killed_mid_prediction(
    client, demos, faulty_worker, hold
):
    created = _upload(client, "cat.jpg", example_bytes("cat.jpg"))
    os.kill(_held_pid(hold), signal.SIGKILL)  # the pool process, mid-prediction
    (hold / "hold").unlink()

    payload = wait_until_finished(client, created["status_url"], faulty_worker)

    assert payload["status"] == "done"
    assert payload["result"]["label"] == "cat"
    assert Prediction.objects.get(id=created["id"]).attempts == 2


@pytest.mark.django_db(transaction=True)
def test_it_leaves_a_slow_prediction_to_its_living_worker(client, demos, faulty_worker, hold):
    created = _upload(client, "cat.jpg", example_bytes("cat.jpg"))
    _held_pid(hold)

    # Held three times the staleness: the heartbeat says the worker is alive.
    wait_for(
        lambda: _beaten_for(created["id"], 3 * STALE_S),
        "the heartbeat to go on while the prediction is held",
    )
    prediction = Prediction.objects.get(id=created["id"])
    assert (prediction.status, prediction.attempts) == (PredictionStatus.RUNNING, 1)
    (hold / "hold").unlink()

    payload = wait_until_finished(client, created["status_url"], faulty_worker)
    assert payload["status"] == "done"
    assert Prediction.objects.get(id=created["id"]).attempts == 1


def _beaten_for(prediction_id, seconds: float) -> bool:
    prediction = Prediction.objects.get(id=prediction_id)
    return (prediction.heartbeat_at - prediction.started_at).total_seconds() >= seconds


@pytest.mark.django_db(transaction=True)
def test_a_photo_that_kills_its_worker_every_time_fails_with_the_reason(
    client, demos, faulty_worker
):
    created = _upload(client, "poison.jpg", jpeg_bytes(size=(333, 222)))

    payload = wait_until_finished(client, created["status_url"], faulty_worker)

    assert payload["status"] == "failed"
    assert "stopped while answering this photo 3 times" in payload["error"]
    assert Prediction.objects.get(id=created["id"]).attempts == 3
    page = client.get(payload["page_url"]).content.decode()
    assert "stopped while answering this photo 3 times" in page
    # Finished: the page neither polls (its script polls queued or running
    # only) nor refreshes itself.
    assert 'data-status="failed"' in page
    assert 'http-equiv="refresh"' not in page
