"""/health/live and /health/ready: what a load balancer and a person read."""

import time

import pytest
from django.core.cache import cache
from django.db import OperationalError

from portfolio import health
from portfolio.celery import app
from tests.portfolio.test_settings import _run

pytestmark = pytest.mark.django_db


def _stamp(ago_s: float = 0.0) -> None:
    cache.set(health.WORKER_SEEN_KEY, {"at": time.time() - ago_s, "host": "worker-1"})


def test_it_is_live_without_asking_the_database(client, django_assert_num_queries):
    with django_assert_num_queries(0):
        response = client.get("/health/live")
    assert response.status_code == 200
    assert response.json() == {"ok": True}


def test_it_is_ready_when_the_database_the_broker_and_a_worker_answer(client):
    _stamp(ago_s=3)
    response = client.get("/health/ready")
    assert response.status_code == 200
    body = response.json()
    assert body["ok"] is True and body["failed"] == []
    assert body["checks"]["database"] == {"ok": True}
    assert body["checks"]["broker"] == {"ok": True}
    assert body["checks"]["worker"]["ok"] is True
    assert body["checks"]["worker"]["host"] == "worker-1"
    assert response["Cache-Control"] == "no-store"


def test_it_is_not_ready_before_any_worker_finished_a_task(client):
    response = client.get("/health/ready")
    assert response.status_code == 503
    body = response.json()
    assert body["failed"] == ["worker"]
    assert "no worker has finished a task in the last 60 s" in body["checks"]["worker"]["detail"]


def test_it_is_not_ready_when_the_last_worker_answer_is_old(client, settings):
    settings.READINESS_WORKER_SECONDS = 30
    _stamp(ago_s=95)
    body = client.get("/health/ready").json()
    assert body["failed"] == ["worker"]
    assert body["checks"]["worker"]["seen_seconds_ago"] >= 95
    assert "the last one 95 s ago" in body["checks"]["worker"]["detail"]


def test_it_names_the_broker_when_it_cannot_be_reached_without_its_address(client, monkeypatch):
    _stamp()
    # Celery reads the broker's URL from the environment first.
    monkeypatch.setenv("CELERY_BROKER_URL", "redis://:s3cret@127.0.0.1:1/0")
    assert app.conf.broker_write_url.endswith(":1/0")
    response = client.get("/health/ready")
    assert response.status_code == 503
    body = response.json()
    assert body["failed"] == ["broker"]
    assert body["checks"]["broker"]["detail"].startswith("cannot reach the broker (")
    assert "s3cret" not in response.content.decode()
    assert "127.0.0.1" not in response.content.decode()


def test_it_names_the_database_when_it_cannot_be_queried(client, monkeypatch):
    _stamp()

    def broken(*args, **kwargs):
        raise OperationalError("connection to server at db.internal failed")

    monkeypatch.setattr("django.db.backends.base.base.BaseDatabaseWrapper.cursor", broken)
    response = client.get("/health/ready")
    assert response.status_code == 503
    body = response.json()
    assert body["failed"] == ["database"]
    assert body["checks"]["database"]["detail"] == "cannot query the database (OperationalError)"
    assert "db.internal" not in response.content.decode()


def test_a_finished_task_stamps_the_worker_as_seen(monkeypatch):
    monkeypatch.setattr(health, "_last_stamp", 0.0)
    health.worker_seen()
    assert cache.get(health.WORKER_SEEN_KEY)["at"] == pytest.approx(time.time(), abs=60)


def test_a_worker_that_cannot_reach_the_cache_still_finishes_its_task(monkeypatch, caplog):
    monkeypatch.setattr(health, "_last_stamp", 0.0)

    def down(*args, **kwargs):
        raise ConnectionError("cache down")

    monkeypatch.setattr(cache, "set", down)
    health.worker_seen()  # no exception
    assert "could not stamp the worker as seen" in caplog.text


def test_the_probes_answer_any_host_over_plain_http_in_production():
    """A container's healthcheck asks http://127.0.0.1:8000/, a load balancer
    the container's address: neither is an allowed host nor HTTPS."""
    code = """
from django.test import Client
client = Client(HTTP_HOST="10.1.2.3:8000")
print(client.get("/health/live").status_code, client.get("/").status_code)
"""
    result = _run(
        ["-c", "import django; django.setup();" + code],
        DJANGO_SETTINGS_MODULE="portfolio.settings",
        DJANGO_SECRET_KEY="k" * 50,
        DJANGO_ALLOWED_HOSTS="demos.example.org",
        DATABASE_URL="postgres://x@127.0.0.1:1/x",
        CELERY_BROKER_URL="redis://127.0.0.1:1/0",
        CACHE_URL="redis://127.0.0.1:1/1",
    )
    assert result.stdout.split() == ["200", "400"], result.stderr


def test_a_readiness_window_within_one_sweep_fails_at_start():
    result = _run(
        ["-c", "import portfolio.settings"],
        DJANGO_LOCAL_DEV="1",
        READINESS_WORKER_SECONDS="5",
        PREDICTION_SWEEP_SECONDS="10",
    )
    assert result.returncode != 0
    assert "READINESS_WORKER_SECONDS must be longer than PREDICTION_SWEEP_SECONDS" in result.stderr
