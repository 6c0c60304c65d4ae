"""Real Celery processes for the tests that need them (PostgreSQL, and Redis
or the filesystem broker).

``celery_worker`` (a fixture in tests/conftest.py) starts one worker per test
module against the test database; ``wait_until_finished`` polls a
prediction's status URL as the browser does. The fault tests start their own
worker (with ``tests.fault_hooks``) and a beat process, kill them and start
them again.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
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


def worker_env(media_root: Path, **extra: str) -> dict[str, str]:
    """The environment of a worker (or beat) on the test database."""
    if connection.vendor != "postgresql":
        pytest.skip("the worker tests need DATABASE_URL (PostgreSQL)")
    broker = extra.get("CELERY_BROKER_URL", settings.CELERY_BROKER_URL)
    if not broker.startswith(("redis", "filesystem")):
        pytest.skip("the worker tests need CELERY_BROKER_URL (Redis)")
    return {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "portfolio.test_settings",
        "DATABASE_URL": database_url(),  # the test database pytest-django created
        "DJANGO_MEDIA_ROOT": str(media_root),
        "MODEL_CACHE_DIR": str(settings.MODEL_CACHE_DIR),  # this machine's, as the tests'
        "CELERY_BROKER_URL": settings.CELERY_BROKER_URL,
        **extra,
    }


class CeleryProcess:
    """A celery worker or beat in a process group of its own (so a test can
    SIGKILL the whole worker, pool processes included), logging to a file."""

    def __init__(self, args: list[str], env: dict[str, str], log_path: Path) -> None:
        self.args, self.env, self.log_path = args, env, log_path
        self.process: subprocess.Popen | None = None

    def start(self) -> CeleryProcess:
        with self.log_path.open("a") as log:
            self.process = subprocess.Popen(
                [sys.executable, "-m", "celery", "-A", "portfolio", *self.args],
                cwd=REPO,
                env=self.env,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        return self

    @property
    def pid(self) -> int:
        assert self.process is not None
        return self.process.pid

    def poll(self) -> int | None:
        assert self.process is not None
        return self.process.poll()

    def kill_all(self) -> None:
        """SIGKILL the process and its pool: nothing gets to clean up."""
        os.killpg(self.pid, signal.SIGKILL)
        self.process.wait(timeout=30)

    def stop(self) -> None:
        if self.process is None or self.process.poll() is not None:
            _killpg_quietly(self.process)
            return
        self.process.terminate()
        try:
            self.process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            pass
        _killpg_quietly(self.process)  # pool processes a crash left behind

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")


def _killpg_quietly(process: subprocess.Popen | None) -> None:
    if process is None:
        return
    try:
        os.killpg(process.pid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        pass
    try:
        process.wait(timeout=10)
    except subprocess.TimeoutExpired:
        pass


WORKER_ARGS = [
    "worker",
    "--concurrency=1",
    "--loglevel=INFO",
    "--without-gossip",
    "--without-mingle",
    "--without-heartbeat",
]


def celery_worker_process(env: dict[str, str], log_path: Path, *extra: str) -> CeleryProcess:
    return CeleryProcess([*WORKER_ARGS, *extra], env, log_path)


def celery_beat_process(env: dict[str, str], folder: Path) -> CeleryProcess:
    return CeleryProcess(
        ["beat", "--loglevel=INFO", f"--schedule={folder / 'beat-schedule'}", "--max-interval=1"],
        env,
        folder / "beat.log",
    )


@contextmanager
def running_worker(
    media_root: Path, *, log_path: Path | None = None, **env: str
) -> Iterator[CeleryProcess]:
    """``env``: more variables for the worker (another machine's settings)."""
    worker = celery_worker_process(
        worker_env(media_root, **env), log_path or media_root / "worker.log"
    ).start()
    try:
        yield worker
    finally:
        worker.stop()


def wait_for(condition: Callable[[], object], what: str, limit_s: float = WAIT_LIMIT_S):
    """Poll until ``condition()`` is true; a bound, never a timing assertion."""
    deadline = time.monotonic() + limit_s
    while time.monotonic() < deadline:
        value = condition()
        if value:
            return value
        time.sleep(0.1)
    raise AssertionError(f"not within {limit_s}s: {what}")


def wait_until_finished(client, status_url: str, worker) -> dict:
    deadline = time.monotonic() + WAIT_LIMIT_S
    while time.monotonic() < deadline:
        assert worker.poll() is None, "the worker process died"
        payload = client.get(status_url, HTTP_ACCEPT="application/json").json()
        if payload["finished"]:
            return payload
        time.sleep(0.5)
    raise AssertionError(f"no result within {WAIT_LIMIT_S}s; see the worker log")
