"""Micro-batching in the worker: several waiting predictions of one demo in
one forward pass, each still claimed, stored and failed on its own."""

import io
from datetime import timedelta

import pytest
from django.utils import timezone

from classifiers.models import Prediction, PredictionStatus
from classifiers.predictions import services as prediction_services
from classifiers.predictions import worker as prediction_worker
from tests.conftest import example_bytes


@pytest.fixture
def cats_vs_dogs(demos):
    return demos["cats-vs-dogs"]


def _queued(demo, names, django_capture_on_commit_callbacks) -> list[Prediction]:
    """Uploads whose messages are held back, as when the worker is busy."""
    with django_capture_on_commit_callbacks(execute=False):
        return [
            prediction_services.prediction_create(demo=demo, data=example_bytes(name))
            for name in names
        ]


def test_one_claim_answers_the_waiting_predictions_of_its_demo_together(
    cats_vs_dogs, demos, django_capture_on_commit_callbacks
):
    mine = _queued(
        cats_vs_dogs,
        ["cat.jpg", "golden-retriever.jpg", "cat.jpg"],
        django_capture_on_commit_callbacks,
    )
    other_demo = _queued(demos["dog-breeds"], ["dalmatian.jpg"], django_capture_on_commit_callbacks)

    prediction_worker.prediction_run(prediction_id=mine[0].id)

    rows = {p.id: p for p in Prediction.objects.all()}
    assert [rows[p.id].status for p in mine] == ["done"] * 3
    assert [rows[p.id].result["label"] for p in mine] == ["cat", "dog", "cat"]
    assert len({rows[p.id].started_at for p in mine}) == 1  # one claim, one pass
    assert all(rows[p.id].attempts == 1 for p in mine)
    assert rows[other_demo[0].id].status == PredictionStatus.QUEUED  # another demo waits its turn


def test_a_corrupt_photo_fails_alone_and_its_neighbours_are_answered(
    cats_vs_dogs, django_capture_on_commit_callbacks
):
    good, bad, also_good = _queued(
        cats_vs_dogs,
        ["cat.jpg", "cat.jpg", "golden-retriever.jpg"],
        django_capture_on_commit_callbacks,
    )
    bad.image.storage.delete(bad.image.name)
    bad.image.storage.save(bad.image.name, io.BytesIO(b"not a jpeg at all"))

    prediction_worker.prediction_run(prediction_id=good.id)

    good.refresh_from_db(), bad.refresh_from_db(), also_good.refresh_from_db()
    assert (good.status, also_good.status) == ("done", "done")
    assert bad.status == "failed"
    assert bad.error == "The model could not process this image; the error has been logged."


def test_a_redelivered_batch_answers_each_prediction_once(
    cats_vs_dogs, django_capture_on_commit_callbacks
):
    batch = _queued(
        cats_vs_dogs, ["cat.jpg", "golden-retriever.jpg"], django_capture_on_commit_callbacks
    )
    prediction_worker.prediction_run(prediction_id=batch[0].id)
    answered = {p.id: (p.finished_at, p.result) for p in Prediction.objects.all()}

    for prediction in batch:  # every message of the batch arrives (again)
        prediction_worker.prediction_run(prediction_id=prediction.id)

    for prediction in Prediction.objects.all():
        assert (prediction.finished_at, prediction.result) == answered[prediction.id]
        assert prediction.attempts == 1


def test_a_prediction_tried_before_runs_alone(cats_vs_dogs, django_capture_on_commit_callbacks):
    """It may be the photo that killed its worker: it must not take others down."""
    tried, waiting = _queued(
        cats_vs_dogs, ["cat.jpg", "cat.jpg"], django_capture_on_commit_callbacks
    )
    Prediction.objects.filter(id=tried.id).update(attempts=1)  # requeued after a lost worker

    prediction_worker.prediction_run(prediction_id=tried.id)

    tried.refresh_from_db(), waiting.refresh_from_db()
    assert (tried.status, tried.attempts) == ("done", 2)
    assert waiting.status == PredictionStatus.QUEUED


def test_a_batch_is_no_larger_than_the_setting(
    cats_vs_dogs, settings, django_capture_on_commit_callbacks
):
    settings.PREDICTION_BATCH_SIZE = 2
    queued = _queued(cats_vs_dogs, ["cat.jpg"] * 3, django_capture_on_commit_callbacks)
    prediction_worker.prediction_run(prediction_id=queued[0].id)
    statuses = [Prediction.objects.get(id=p.id).status for p in queued]
    assert statuses == ["done", "done", "queued"]  # the oldest waiting one joined


def test_when_the_process_dies_its_whole_batch_is_rescued_at_once(
    cats_vs_dogs, django_capture_on_commit_callbacks
):
    batch = _queued(cats_vs_dogs, ["cat.jpg"] * 3, django_capture_on_commit_callbacks)
    claimed_at = timezone.now() - timedelta(seconds=5)
    Prediction.objects.filter(id__in=[p.id for p in batch]).update(
        status=PredictionStatus.RUNNING, started_at=claimed_at, heartbeat_at=claimed_at, attempts=1
    )
    sent = []

    report = prediction_worker.prediction_worker_lost(
        prediction_id=batch[0].id, died_at=timezone.now(), send=sent.append
    )

    assert report.requeued == 3
    assert sorted(sent) == sorted(str(p.id) for p in batch)
    assert set(Prediction.objects.values_list("status", flat=True)) == {"queued"}


def test_with_a_wait_an_upload_arriving_meanwhile_joins_the_batch(
    cats_vs_dogs, settings, monkeypatch, django_capture_on_commit_callbacks
):
    settings.PREDICTION_BATCH_WAIT_MS = 5
    first = _queued(cats_vs_dogs, ["cat.jpg"], django_capture_on_commit_callbacks)[0]
    arrived = []

    def upload_during_the_wait(seconds):
        assert seconds == pytest.approx(0.005)
        arrived.extend(_queued(cats_vs_dogs, ["cat.jpg"], django_capture_on_commit_callbacks))

    monkeypatch.setattr(prediction_worker, "_wait_for_company", upload_during_the_wait)
    prediction_worker.prediction_run(prediction_id=first.id)

    first.refresh_from_db(), arrived[0].refresh_from_db()
    assert (first.status, arrived[0].status) == ("done", "done")
    assert first.started_at == arrived[0].started_at  # one claim, one pass


def test_without_a_wait_a_lone_upload_never_waits_for_company(
    cats_vs_dogs, settings, monkeypatch, django_capture_on_commit_callbacks
):
    settings.PREDICTION_BATCH_WAIT_MS = 0
    lone = _queued(cats_vs_dogs, ["cat.jpg"], django_capture_on_commit_callbacks)[0]
    slept = []
    monkeypatch.setattr(prediction_worker, "_wait_for_company", slept.append)

    prediction_worker.prediction_run(prediction_id=lone.id)

    lone.refresh_from_db()
    assert lone.status == "done"
    assert slept == []
