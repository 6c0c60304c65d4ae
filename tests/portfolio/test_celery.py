"""The Celery app: what beat runs, and the queues every worker takes."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.conf import settings
from django.contrib.sessions.backends.db import SessionStore
from django.contrib.sessions.models import Session
from django.utils import timezone

from portfolio.celery import app


def _registered_tasks() -> set[str]:
    app.loader.import_default_modules()
    return set(app.tasks)


def test_beat_runs_the_sweeps_and_the_housekeeping():
    scheduled = {entry["task"] for entry in settings.CELERY_BEAT_SCHEDULE.values()}
    assert {
        "classifiers.sweep_predictions",
        "classifiers.sweep_versions",
        "classifiers.expire_anonymous_predictions",
        "classifiers.remove_invalid_version_files",
        "portfolio.clear_expired_sessions",
    } <= scheduled
    assert scheduled <= _registered_tasks()
    sweep = settings.CELERY_BEAT_SCHEDULE["sweep-predictions"]["schedule"]
    assert sweep < settings.PREDICTION_STALE_SECONDS  # a dead worker is noticed soon after


def test_sweeps_have_a_queue_of_their_own_that_every_worker_takes():
    """A long queue of uploads must not delay the sweep that rescues them."""
    queues = {queue.name: queue for queue in settings.CELERY_TASK_QUEUES}
    assert set(queues) == {settings.CELERY_TASK_DEFAULT_QUEUE, "housekeeping"}
    # Distinct routing keys: a shared one would copy every message to both queues.
    assert len({queue.routing_key for queue in queues.values()}) == 2
    route = app.amqp.router.route({}, "classifiers.sweep_predictions")
    assert route["queue"].name == "housekeeping"
    route = app.amqp.router.route({}, "classifiers.run_prediction")
    assert route["queue"].name == settings.CELERY_TASK_DEFAULT_QUEUE


@pytest.mark.django_db
def test_it_clears_expired_sessions():
    from portfolio.celery import clear_expired_sessions

    expired, current = SessionStore(), SessionStore()
    expired["visitor_id"] = current["visitor_id"] = "x"
    expired.create()
    current.create()
    Session.objects.filter(session_key=expired.session_key).update(
        expire_date=timezone.now() - timedelta(days=1)
    )

    clear_expired_sessions()

    assert list(Session.objects.values_list("session_key", flat=True)) == [current.session_key]
