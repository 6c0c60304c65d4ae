"""The sweep, claims and heartbeats, without a worker process: the row is the
truth, and what a person reads on the prediction's page follows from it."""

from __future__ import annotations

import time
from datetime import timedelta

import pytest
from django.utils import timezone

from classifiers.models import Prediction, PredictionStatus
from classifiers.predictions import services as prediction_services
from classifiers.predictions import worker as prediction_worker
from tests.conftest import example_bytes, jpeg_bytes

OUTCOME = {"status": "done", "label": "cat", "score": 0.9, "top": []}


@pytest.fixture
def cats_vs_dogs(demos):
    return demos["cats-vs-dogs"]


@pytest.fixture
def prediction(cats_vs_dogs, alice, client):
    client.force_login(alice)  # the owner reads it
    return prediction_services.prediction_create(demo=cats_vs_dogs, data=jpeg_bytes(), owner=alice)


@pytest.fixture
def sent():
    return []


def _sweep(sent):
    return prediction_worker.predictions_sweep(send=sent.append)


def _claimed(prediction) -> Prediction:
    assert prediction_worker.prediction_claim(prediction_id=prediction.id)
    return Prediction.objects.get(id=prediction.id)


def _stop_heartbeat(prediction, settings, seconds_late: float = 1) -> None:
    """As if its worker died: the heartbeat is older than the staleness."""
    late = timedelta(seconds=settings.PREDICTION_STALE_SECONDS + seconds_late)
    Prediction.objects.filter(id=prediction.id).update(heartbeat_at=timezone.now() - late)


def _ago(**kwargs):
    return timezone.now() - timedelta(**kwargs)


def _status(client, prediction) -> dict:
    return client.get(f"/predictions/{prediction.id}/status/").json()


def test_it_queues_again_a_prediction_whose_worker_stopped_beating(
    prediction, sent, settings, client
):
    _claimed(prediction)
    _stop_heartbeat(prediction, settings)

    report = _sweep(sent)

    assert (report.requeued, sent) == (1, [str(prediction.id)])
    prediction.refresh_from_db()
    assert (prediction.status, prediction.attempts) == (PredictionStatus.QUEUED, 1)


def test_it_leaves_a_running_prediction_whose_worker_beats(prediction, sent):
    _claimed(prediction)

    assert not _sweep(sent)

    assert sent == []
    assert Prediction.objects.get(id=prediction.id).status == PredictionStatus.RUNNING


def test_it_fails_a_prediction_whose_worker_stopped_every_time(prediction, sent, settings, client):
    settings.PREDICTION_MAX_ATTEMPTS = 3
    Prediction.objects.filter(id=prediction.id).update(attempts=2)
    _claimed(prediction)  # the third claim
    _stop_heartbeat(prediction, settings)

    report = _sweep(sent)

    assert (report.failed, sent) == (1, [])
    payload = _status(client, prediction)
    assert (payload["status"], payload["finished"]) == ("failed", True)
    assert payload["error"].startswith("The worker stopped while answering this photo 3 times")
    page = client.get(f"/predictions/{prediction.id}/").content.decode()
    assert "The worker stopped while answering this photo 3 times" in page


def test_a_running_prediction_from_before_heartbeats_is_rescued(prediction, sent, settings):
    long_ago = timezone.now() - timedelta(hours=1)
    Prediction.objects.filter(id=prediction.id).update(
        status=PredictionStatus.RUNNING, started_at=long_ago, attempts=1, heartbeat_at=None
    )
    assert _sweep(sent).requeued == 1
    assert sent == [str(prediction.id)]


def test_it_rings_again_for_a_prediction_queued_too_long_once_per_period(
    prediction, sent, settings
):
    settings.PREDICTION_RESEND_SECONDS = 60
    Prediction.objects.filter(id=prediction.id).update(
        created_at=timezone.now() - timedelta(seconds=61)
    )

    assert _sweep(sent).resent == 1
    assert _sweep(sent).resent == 0  # rung a moment ago

    Prediction.objects.filter(id=prediction.id).update(
        heartbeat_at=timezone.now() - timedelta(seconds=61)
    )
    assert _sweep(sent).resent == 1
    assert sent == [str(prediction.id)] * 2
    assert Prediction.objects.get(id=prediction.id).status == PredictionStatus.QUEUED


def test_it_rings_again_at_once_for_a_prediction_a_later_upload_overtook(
    cats_vs_dogs, prediction, sent, settings
):
    """One first-in, first-out queue: a later upload taken while this one
    still waits means this one's message was lost (a worker died holding it)."""
    settings.PREDICTION_RESEND_SECONDS = 600
    settings.PREDICTION_OVERTAKEN_SECONDS = 10
    Prediction.objects.filter(id=prediction.id).update(created_at=_ago(seconds=30))
    later = prediction_services.prediction_create(demo=cats_vs_dogs, data=jpeg_bytes())
    Prediction.objects.filter(id=later.id).update(created_at=_ago(seconds=20))
    newest = prediction_services.prediction_create(demo=cats_vs_dogs, data=jpeg_bytes())
    Prediction.objects.filter(id=newest.id).update(created_at=_ago(seconds=15))
    _claimed(later)
    Prediction.objects.filter(id=later.id).update(started_at=_ago(seconds=12))

    assert _sweep(sent).resent == 1

    assert sent == [str(prediction.id)]  # not the newest: nothing later was taken


def test_it_waits_while_a_later_upload_was_taken_only_a_moment_ago(
    cats_vs_dogs, prediction, sent, settings
):
    """Another worker may still hold this one prefetched behind its current photo."""
    settings.PREDICTION_RESEND_SECONDS = 600
    settings.PREDICTION_OVERTAKEN_SECONDS = 10
    Prediction.objects.filter(id=prediction.id).update(created_at=_ago(seconds=30))
    later = prediction_services.prediction_create(demo=cats_vs_dogs, data=jpeg_bytes())
    _claimed(later)

    assert not _sweep(sent)


def test_it_does_not_ring_again_for_a_prediction_queued_just_now(prediction, sent):
    assert not _sweep(sent)
    assert sent == []


def test_it_fails_a_prediction_no_worker_took_in_time(prediction, sent, settings, client):
    settings.PREDICTION_QUEUED_GIVE_UP_SECONDS = 3600
    Prediction.objects.filter(id=prediction.id).update(
        created_at=timezone.now() - timedelta(hours=2)
    )

    assert _sweep(sent).failed == 1

    payload = _status(client, prediction)
    assert (payload["status"], payload["finished"]) == ("failed", True)
    assert payload["error"] == prediction_worker.NEVER_TAKEN


def test_a_broker_that_cannot_take_the_message_leaves_the_row_for_the_next_sweep(
    prediction, settings
):
    _claimed(prediction)
    _stop_heartbeat(prediction, settings)

    def broker_down(prediction_id):
        raise ConnectionError("redis is restarting")

    assert prediction_worker.predictions_sweep(send=broker_down).requeued == 1
    assert Prediction.objects.get(id=prediction.id).status == PredictionStatus.QUEUED


def test_the_sweep_task_sends_the_ids_to_the_prediction_task(prediction, settings, monkeypatch):
    from classifiers.predictions import tasks

    sent = []
    monkeypatch.setattr("classifiers.predictions.tasks.run_prediction.delay", sent.append)
    _claimed(prediction)
    _stop_heartbeat(prediction, settings)

    tasks.sweep_predictions()

    assert sent == [str(prediction.id)]


# -- claims -----------------------------------------------------------------------


def test_a_claim_takes_over_a_prediction_whose_worker_stopped_beating(prediction, settings):
    _claimed(prediction)
    _stop_heartbeat(prediction, settings)

    assert prediction_worker.prediction_claim(prediction_id=prediction.id) is True

    prediction.refresh_from_db()
    assert (prediction.status, prediction.attempts) == (PredictionStatus.RUNNING, 2)


def test_a_claim_leaves_a_prediction_whose_worker_beats(prediction):
    _claimed(prediction)
    assert prediction_worker.prediction_claim(prediction_id=prediction.id) is False


def test_a_claim_never_takes_a_prediction_past_its_attempts(prediction, settings):
    settings.PREDICTION_MAX_ATTEMPTS = 2
    Prediction.objects.filter(id=prediction.id).update(attempts=1)
    _claimed(prediction)
    _stop_heartbeat(prediction, settings)

    assert prediction_worker.prediction_claim(prediction_id=prediction.id) is False


def test_an_answer_from_a_worker_that_lost_its_claim_is_dropped(prediction, settings):
    first = _claimed(prediction)
    _stop_heartbeat(prediction, settings)
    second = _claimed(prediction)  # another worker took it over

    assert prediction_worker.prediction_finish(prediction=first, outcome=OUTCOME) is False
    assert Prediction.objects.get(id=prediction.id).status == PredictionStatus.RUNNING

    assert prediction_worker.prediction_finish(prediction=second, outcome=OUTCOME) is True
    assert Prediction.objects.get(id=prediction.id).status == PredictionStatus.DONE


def test_a_failure_from_a_worker_that_lost_its_claim_is_dropped(prediction, settings):
    first = _claimed(prediction)
    _stop_heartbeat(prediction, settings)
    _claimed(prediction)

    prediction_worker.prediction_fail(
        prediction_id=prediction.id, reason="late", claimed_at=first.started_at
    )

    assert Prediction.objects.get(id=prediction.id).status == PredictionStatus.RUNNING


def test_a_failure_never_replaces_an_earlier_failure(prediction):
    prediction_worker.prediction_fail(prediction_id=prediction.id, reason="first")
    prediction_worker.prediction_fail(prediction_id=prediction.id, reason="second")
    assert Prediction.objects.get(id=prediction.id).error == "first"


# -- heartbeats -------------------------------------------------------------------


def test_a_heartbeat_stamps_only_the_rows_this_claim_holds(prediction, settings):
    claimed = _claimed(prediction)
    _stop_heartbeat(prediction, settings)
    stale = Prediction.objects.get(id=prediction.id).heartbeat_at

    other_claim = claimed.started_at - timedelta(seconds=1)
    assert prediction_worker.predictions_heartbeat(running={str(prediction.id): other_claim}) == 0
    assert Prediction.objects.get(id=prediction.id).heartbeat_at == stale

    touched = prediction_worker.predictions_heartbeat(
        running={str(prediction.id): claimed.started_at}
    )
    assert touched == 1
    assert Prediction.objects.get(id=prediction.id).heartbeat_at > stale


@pytest.mark.django_db(transaction=True)
def test_a_worker_process_beats_while_it_runs_a_prediction(cats_vs_dogs, settings, monkeypatch):
    """A slow prediction keeps beating from its own thread, so the sweep never
    takes it from a living worker."""
    settings.PREDICTION_HEARTBEAT_SECONDS = 0.2
    settings.PREDICTION_STALE_SECONDS = 2
    prediction = prediction_services.prediction_create(
        demo=cats_vs_dogs, data=example_bytes("cat.jpg")
    )
    real_infer = prediction_worker.infer

    def slow_infer(pipeline, model, images):
        # Slower than the staleness; bounded by a deadline, not a timing check.
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            row = Prediction.objects.get(id=prediction.id)
            if (row.heartbeat_at - row.started_at).total_seconds() > 2:
                break
            time.sleep(0.1)
        assert not prediction_worker.predictions_sweep(send=lambda pid: None)
        return real_infer(pipeline, model, images)

    monkeypatch.setattr(prediction_worker, "infer", slow_infer)

    prediction_worker.prediction_run(prediction_id=prediction.id)

    prediction.refresh_from_db()
    assert (prediction.status, prediction.attempts) == (PredictionStatus.DONE, 1)
    assert (prediction.heartbeat_at - prediction.started_at).total_seconds() > 2


# -- a pool process died (its main worker process saw it) --------------------------


def test_a_prediction_whose_process_died_is_queued_again_at_once(prediction, sent):
    _claimed(prediction)  # its heartbeat is fresh: the sweep would still wait

    report = prediction_worker.prediction_worker_lost(
        prediction_id=prediction.id, died_at=timezone.now(), send=sent.append
    )

    assert (report.requeued, sent) == (1, [str(prediction.id)])
    assert Prediction.objects.get(id=prediction.id).status == PredictionStatus.QUEUED


def test_a_death_reported_late_leaves_the_claim_made_since(prediction, sent, settings):
    died_at = timezone.now()
    _claimed(prediction)  # claimed again after the death, by a living process

    prediction_worker.prediction_worker_lost(
        prediction_id=prediction.id, died_at=died_at, send=sent.append
    )

    assert sent == []
    assert Prediction.objects.get(id=prediction.id).status == PredictionStatus.RUNNING


def test_the_main_process_asks_for_a_rescue_when_a_pool_process_dies(monkeypatch):
    """Celery calls the request's on_failure in the main process with WorkerLostError."""
    from billiard.einfo import ExceptionInfo
    from billiard.exceptions import WorkerLostError

    from classifiers.predictions import tasks

    asked = []
    monkeypatch.setattr(
        "classifiers.predictions.tasks.rescue_prediction.delay", lambda *a: asked.append(a)
    )
    monkeypatch.setattr(tasks.Request, "on_failure", lambda self, *a, **k: None)
    request = tasks.PredictionRequest.__new__(tasks.PredictionRequest)
    monkeypatch.setattr(tasks.PredictionRequest, "args", ["some-id"], raising=False)
    try:
        raise WorkerLostError("Worker exited prematurely: signal 9 (SIGKILL)")
    except WorkerLostError:
        request.on_failure(ExceptionInfo())

    assert [a[0] for a in asked] == ["some-id"]
