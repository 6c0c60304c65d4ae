"""A real Celery worker process for the tests that need one (PostgreSQL and Redis).

``celery_worker`` (a fixture in tests/conftest.py) starts one per test module
against the test database; ``wait_until_finished`` polls a prediction's
status URL as the browser does.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from django.conf import settings
from django.db import connection

REPO = Path(__file__).resolve().parent.parent

WAIT_LIMIT_S = 240  # a bound so a broken worker fails the test instead of hanging it


def database_url() -> str:
    db = connection.settings_dict
    user = db.get("USER") or "postgres"
    password = f":{db['PASSWORD']}" if db.get("PASSWORD") else ""
    return f"postgres://{user}{password}@{db['HOST']}:{db['PORT']}/{db['NAME']}"


@contextmanager
def running_worker(media_root: Path) -> Iterator[subprocess.Popen]:
    if connection.vendor != "postgresql" or not settings.CELERY_BROKER_URL.startswith("redis"):
        pytest.skip("the worker tests need DATABASE_URL (PostgreSQL) and CELERY_BROKER_URL (Redis)")
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "portfolio.test_settings",
        "DATABASE_URL": database_url(),  # the test database pytest-django created
        "DJANGO_MEDIA_ROOT": str(media_root),
        "CELERY_BROKER_URL": settings.CELERY_BROKER_URL,
    }
    log = (media_root / "worker.log").open("w")
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


def wait_until_finished(client, status_url: str, worker) -> dict:
    deadline = time.monotonic() + WAIT_LIMIT_S
    while time.monotonic() < deadline:
        assert worker.poll() is None, "the worker process died"
        payload = client.get(status_url, HTTP_ACCEPT="application/json").json()
        if payload["finished"]:
            return payload
        time.sleep(0.5)
    raise AssertionError(f"no result within {WAIT_LIMIT_S}s; see the worker log")
