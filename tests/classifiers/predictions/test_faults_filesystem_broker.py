"""The embedded broker of `make run` loses nothing when the whole worker is killed.

kombu's filesystem transport deletes a message file when a worker fetches
it, so a SIGKILL of the worker loses the message it was running and the one
it had prefetched. The rows are the truth: after a restart the sweep (beat)
queues the running one again and rings again for the prefetched one.
Real processes on PostgreSQL and a broker folder of the test's own.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from celery import Celery
from django.conf import settings
from django.core.files.uploadedfile import SimpleUploadedFile

from classifiers.models import Prediction
from tests.conftest import example_bytes
from tests.workers import celery_beat_process, celery_worker_process, wait_for, worker_env

pytestmark = [pytest.mark.worker]

PHOTOS = ("cat.jpg", "golden-retriever.jpg", "cat.jpg")


def _sender(folder: Path):
    """The web side of the same filesystem broker (the test's own settings use Redis)."""
    # Not the current app: the site's tasks must stay bound to the site's app.
    app = Celery("filesystem-broker-test", set_as_current=False)
    app.conf.broker_transport_options = {
        "data_folder_in": str(folder),
        "data_folder_out": str(folder),
        "control_folder": str(folder / "control"),
        "store_processed": False,
    }
    (folder / "control").mkdir(parents=True, exist_ok=True)

    def send(prediction_id: str) -> None:
        # An explicit connection: Celery prefers CELERY_BROKER_URL from the
        # environment (Redis, in the suite) over the app's own setting.
        with app.connection_for_write("filesystem://") as connection:
            app.send_task(
                "classifiers.run_prediction",
                args=[prediction_id],
                queue=settings.CELERY_TASK_DEFAULT_QUEUE,
                connection=connection,
            )

    return send


def _waiting_messages(folder: Path) -> int:
    return len(list(folder.glob(f"*.{settings.CELERY_TASK_DEFAULT_QUEUE}.msg")))


@pytest.mark.django_db(transaction=True)
def test_a_killed_worker_loses_no_prediction_on_the_filesystem_broker(
    client, demos, tmp_path, _private_media_root, monkeypatch
):
    broker_dir, hold_dir = tmp_path / "broker", tmp_path / "hold"
    hold_dir.mkdir()
    env = worker_env(
        _private_media_root,
        CELERY_BROKER_URL="filesystem://",
        CELERY_BROKER_DIR=str(broker_dir),
        FAULT_HOLD_DIR=str(hold_dir),
        PREDICTION_HEARTBEAT_SECONDS="0.5",
        PREDICTION_STALE_SECONDS="3",
        PREDICTION_SWEEP_SECONDS="1",
        PREDICTION_RESEND_SECONDS="5",
        # One at a time: what is running, prefetched and waiting is then exact
        # (batching is shown in test_worker_batching.py).
        PREDICTION_BATCH_SIZE="1",
    )
    monkeypatch.setattr("classifiers.predictions.tasks.run_prediction.delay", _sender(broker_dir))
    args = ("--include=tests.fault_hooks",)
    # Before the crash nothing rings again (so exactly one message is
    # prefetched); after the restart the sweep does, as configured.
    first = {**env, "PREDICTION_RESEND_SECONDS": "600"}
    worker = celery_worker_process(first, tmp_path / "worker.log", *args).start()
    beat = celery_beat_process(env, tmp_path)
    try:
        # Its start-up sweep done: the pool process is warm and waits for work.
        wait_for(
            lambda: "sweep_predictions" in worker.log() and "succeeded" in worker.log(),
            "the worker to start",
        )
        (hold_dir / "hold").touch()
        ids = []
        for name in PHOTOS:
            response = client.post(
                "/demos/cats-vs-dogs/",
                {"image": SimpleUploadedFile(name, example_bytes(name))},
                HTTP_ACCEPT="application/json",
            )
            assert response.status_code == 202
            ids.append(response.json()["id"])
        # One prediction running (held in its pipeline), one prefetched (its
        # file already deleted by the transport), one still in the folder.
        wait_for(lambda: list(hold_dir.glob("entered-*")), "a prediction in its pipeline")
        wait_for(lambda: _waiting_messages(broker_dir) == 1, "a message to be prefetched")

        worker.kill_all()
        (hold_dir / "hold").unlink()
        assert Prediction.objects.filter(id__in=ids, status="running").count() == 1
        beat.start()
        worker.env = env
        worker.start()

        wait_for(
            lambda: Prediction.objects.filter(id__in=ids, status="done").count() == len(ids),
            "every prediction to be answered after the restart",
        )
        answered = worker.log().count(" answered done ")
        assert answered == len(ids)  # each once
    finally:
        worker.stop()
        beat.stop()
