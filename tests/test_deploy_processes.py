"""compose.yaml's web, worker and beat, started as plain processes with the
commands compose gives them, in production mode (DJANGO_LOCAL_DEV off), on the
test database, the local Redis and JSON logs: readiness turns green once the
worker has answered, and an upload is answered with its id on every log line
of its journey, in the web process and in the worker.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
from pathlib import Path

import pytest
import requests
from django.conf import settings

from tests.conftest import example_bytes
from tests.test_deploy import SERVICES
from tests.workers import REPO, database_url, wait_for

pytestmark = [pytest.mark.worker]

BIN = Path(sys.executable).parent
# Behind the TLS proxy production has: it says the client spoke HTTPS.
HTTPS = {"X-Forwarded-Proto": "https"}


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _command(service: str) -> list[str]:
    """The service's command from compose.yaml, run from this virtualenv."""
    program, *args = SERVICES[service]["command"]
    return [str(BIN / program), *(arg.replace("${WORKER_CONCURRENCY:-1}", "1") for arg in args)]


class Service:
    def __init__(self, name: str, env: dict[str, str], folder: Path) -> None:
        self.name, self.log_path = name, folder / f"{name}.log"
        with self.log_path.open("w") as log:
            self.process = subprocess.Popen(
                _command(name),
                cwd=REPO,
                env=env,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )

    def alive(self) -> bool:
        return self.process.poll() is None

    def lines(self) -> list[str]:
        return [line for line in self.log_path.read_text().splitlines() if line.strip()]

    def stop(self) -> None:
        if self.alive():
            self.process.terminate()
            try:
                self.process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                pass
        try:
            os.killpg(self.process.pid, signal.SIGKILL)  # pool processes left behind
        except (ProcessLookupError, PermissionError):
            pass
        self.process.wait(timeout=10)


@pytest.fixture
def site(tmp_path, _private_media_root, demos):
    from django.db import connection

    if connection.vendor != "postgresql" or not settings.CELERY_BROKER_URL.startswith("redis"):
        pytest.skip("needs DATABASE_URL (PostgreSQL) and CELERY_BROKER_URL (Redis)")
    port = _free_port()
    keep = ("PATH", "HOME", "LANG", "TMPDIR", "TF_CPP_MIN_LOG_LEVEL")
    env = {
        **{k: v for k, v in os.environ.items() if k in keep},
        # What compose.yaml and .env.example give the services, on this machine.
        "DJANGO_LOCAL_DEV": "0",
        "DJANGO_SECRET_KEY": "test-" + "q8Zr!vB2#" * 6,
        "DJANGO_ALLOWED_HOSTS": "127.0.0.1",
        "DJANGO_BEHIND_TLS_PROXY": "1",
        "DATABASE_URL": database_url(),
        "CELERY_BROKER_URL": settings.CELERY_BROKER_URL,
        "CACHE_URL": settings.CELERY_BROKER_URL,
        "DJANGO_MEDIA_ROOT": str(_private_media_root),
        "CELERY_BEAT_SCHEDULE_FILENAME": str(tmp_path / "celerybeat-schedule"),
        "LOG_FORMAT": "json",
        # One web process on a free port (gunicorn's own variable), fast sweeps.
        "GUNICORN_CMD_ARGS": f"--bind 127.0.0.1:{port} --workers 1 --threads 2",
        "PREDICTION_SWEEP_SECONDS": "1",
        "READINESS_WORKER_SECONDS": "30",
    }
    services = {name: Service(name, env, tmp_path) for name in ("web", "worker", "beat")}
    try:
        yield f"http://127.0.0.1:{port}", services
    finally:
        for service in services.values():
            service.stop()


def _get(url: str):
    try:
        return requests.get(url, headers=HTTPS, timeout=10)
    except requests.ConnectionError:
        return None  # gunicorn not listening yet


@pytest.mark.django_db(transaction=True)
def test_the_services_start_get_ready_and_answer_an_upload_with_its_id_in_every_log(site):
    base, services = site
    seen_failed = []

    def ready():
        for service in services.values():
            assert service.alive(), f"{service.name} died:\n" + "\n".join(service.lines()[-30:])
        response = _get(f"{base}/health/ready")
        if response is not None and response.status_code == 503:
            seen_failed.append(tuple(response.json()["failed"]))
        return response is not None and response.status_code == 200

    wait_for(ready, "readiness to turn green")
    # Until then only the worker was missing: the database and Redis were up.
    assert set(seen_failed) <= {("worker",)}
    assert _get(f"{base}/health/live").json() == {"ok": True}

    response = requests.post(
        f"{base}/api/v1/predictions/",
        data={"demo": "cats-vs-dogs"},
        files={"image": ("cat.jpg", example_bytes("cat.jpg"), "image/jpeg")},
        headers=HTTPS,
        timeout=30,
    )
    assert response.status_code == 202, response.text
    prediction_id = response.json()["id"]
    answer = wait_for(
        lambda: (
            (body := _get(f"{base}/api/v1/predictions/{prediction_id}/").json())["finished"]
            and body
        ),
        "the answer",
    )
    assert (answer["status"], answer["result"]["label"]) == ("done", "cat")

    def journey(service: str) -> list[str]:
        records = [json.loads(line) for line in services[service].lines() if line[0] == "{"]
        return [r["message"] for r in records if r.get("prediction_id") == prediction_id]

    wait_for(lambda: any("answered" in m for m in journey("worker")), "the worker's last line")
    web, worker = journey("web"), journey("worker")
    assert web[0].startswith(f"prediction {prediction_id} accepted: cats-vs-dogs")
    assert f"prediction {prediction_id} queued" in web
    assert worker[0].startswith(f"prediction {prediction_id} claimed (attempt 1")
    assert any(m.startswith(f"prediction {prediction_id} answered done") for m in worker)
    # Every line each process wrote is a JSON object (gunicorn's access log too).
    for service in services.values():
        for line in service.lines():
            assert isinstance(json.loads(line), dict), f"{service.name}: {line}"
