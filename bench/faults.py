"""Nothing lost when workers die: uploads over HTTP while the workers are killed.

    .venv/bin/python bench/faults.py              # Redis (its own) + PostgreSQL
    .venv/bin/python bench/faults.py --default    # `make run`: SQLite + filesystem broker
    .venv/bin/python bench/faults.py -n 50        # a quicker run

It starts everything it measures and stops it all afterwards (also on Ctrl-C
or an error): the site under gunicorn on a free port (as `make run` serves
it), a Celery worker and beat, and, unless --default, a redis-server of its
own on a free port (restarting it touches nothing else) and a database of
its own (``faults_bench``) on the PostgreSQL of DATABASE_URL (or `.ci/run`'s
default), migrated and set up with the demos. --default uses SQLite and the
filesystem broker in a temporary folder instead.

While N uploads go to /api/v1/predictions/ from a few concurrent clients, it
SIGKILLs the worker's pool process mid-prediction, later the main worker
process (and starts the worker again), restarts Redis while uploads wait in
it (it keeps nothing on disk, so every queued message is gone), and kills a
pool process once more.
Then it waits (bounded) and prints:

- accepted: uploads answered 202;
- finished: accepted uploads whose row ended done, rejected or failed;
- duplicates: predictions answered more than once (the worker logs one
  "prediction <id> answered" line per stored answer, from every process);
- lost: accepted uploads not finished when the wait ended;
- worst_recovery_s: for each fault, the time from the fault until every
  prediction it disrupted was answered, the worst of them. Disrupted: a
  prediction the fault could have hit (running, for a killed pool process;
  running or queued, for a killed worker, whose prefetched messages go with
  it; queued, for a Redis restart) that was then queued again after its
  worker died or rung again by the sweep. Faults close together share rows,
  so a figure is an upper bound.

The last line is ``accepted=N finished=N duplicates=N lost=N worst_recovery_s=X``.
Heartbeat, staleness and sweep are the site's defaults (PREDICTION_* in the
environment override them).
"""

from __future__ import annotations

import argparse
import http.client
import itertools
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections import Counter
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

REPO = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent
EXAMPLES = REPO / "static" / "classifiers" / "examples"
PHOTOS = ["cat.jpg", "golden-retriever.jpg", "dalmatian.jpg", "fox-squirrel.jpg"]
DEFAULT_DATABASE_URL = "postgres://postgres@127.0.0.1:5432/test"  # as .ci/run
BENCH_DATABASE = "faults_bench"
FINISHED = ("done", "rejected", "failed")
ANSWERED = re.compile(r"prediction ([0-9a-f-]{36}) answered")
RUNG_AGAIN = re.compile(r"prediction ([0-9a-f-]{36}) (?:lost its worker|rung again)")


def log(message: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {message}", flush=True)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


# -- processes ------------------------------------------------------------------------


class Processes:
    """Everything started, each in a process group of its own; all stopped at the end."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self.started: list[subprocess.Popen] = []

    def start(self, name: str, args: list[str], env: dict[str, str]) -> subprocess.Popen:
        with (self.folder / f"{name}.log").open("a") as out:
            process = subprocess.Popen(
                args, cwd=REPO, env=env, stdout=out, stderr=subprocess.STDOUT,
                start_new_session=True,
            )  # fmt: skip
        self.started.append(process)
        return process

    def stop_all(self) -> None:
        for process in reversed(self.started):
            if process.poll() is None:
                try:
                    os.killpg(process.pid, signal.SIGTERM)
                except ProcessLookupError:
                    pass
        deadline = time.monotonic() + 20
        for process in reversed(self.started):
            try:
                process.wait(timeout=max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                pass
            # Whatever is left of the group (pool processes of a killed worker).
            try:
                os.killpg(process.pid, signal.SIGKILL)
            except (ProcessLookupError, PermissionError):
                pass


def children(pid: int) -> list[int]:
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                stat = (entry / "stat").read_text()
            except OSError:
                continue
            # pid (comm) state ppid ...: comm may hold spaces, so split after ")".
            if int(stat.rsplit(")", 1)[1].split()[1]) == pid:
                found.append(int(entry.name))
    return found


def manage(env: dict[str, str], *args: str) -> None:
    subprocess.run([sys.executable, "manage.py", *args], cwd=REPO, env=env, check=True,
                   stdout=subprocess.DEVNULL)  # fmt: skip


def wait_for(condition, what: str, limit_s: float) -> None:
    deadline = time.monotonic() + limit_s
    while time.monotonic() < deadline:
        if condition():
            return
        time.sleep(0.2)
    raise SystemExit(f"gave up waiting {limit_s:.0f}s for {what}")


# -- the set-up -----------------------------------------------------------------------


def postgres_url(folder: Path) -> str:
    """A database of the bench's own on the environment's PostgreSQL server."""
    import psycopg

    server = urlsplit(os.environ.get("DATABASE_URL") or DEFAULT_DATABASE_URL)
    admin = urlunsplit(server._replace(scheme="postgresql", path="/postgres"))
    with psycopg.connect(admin, autocommit=True) as connection:
        connection.execute(f"DROP DATABASE IF EXISTS {BENCH_DATABASE} WITH (FORCE)")
        connection.execute(f"CREATE DATABASE {BENCH_DATABASE}")
    return urlunsplit(server._replace(path=f"/{BENCH_DATABASE}"))


def drop_postgres_database() -> None:
    import psycopg

    server = urlsplit(os.environ.get("DATABASE_URL") or DEFAULT_DATABASE_URL)
    admin = urlunsplit(server._replace(scheme="postgresql", path="/postgres"))
    with psycopg.connect(admin, autocommit=True) as connection:
        connection.execute(f"DROP DATABASE IF EXISTS {BENCH_DATABASE} WITH (FORCE)")


@dataclass
class Site:
    args: argparse.Namespace
    folder: Path
    processes: Processes
    env: dict[str, str] = field(default_factory=dict)
    url: str = ""
    redis_port: int = 0
    redis: subprocess.Popen | None = None
    worker: subprocess.Popen | None = None
    worker_starts: int = 0
    worker_ready_at: datetime | None = None

    def set_up(self) -> None:
        media = self.folder / "media"
        media.mkdir()
        unlimited = "1000000/hour"
        self.env = {
            **os.environ,
            "DJANGO_SETTINGS_MODULE": "portfolio.settings",
            "DJANGO_LOCAL_DEV": "1",
            "DJANGO_MEDIA_ROOT": str(media),
            "CELERY_BEAT_SCHEDULE_FILENAME": str(self.folder / "beat-schedule"),
            "LOG_LEVEL": "INFO",
            "PYTHONUNBUFFERED": "1",
            "TF_CPP_MIN_LOG_LEVEL": "2",
            # One benchmark client sends N uploads: lift the per-client limits.
            "API_ANON_UPLOAD_RATE": unlimited,
            "UPLOAD_ANON_RATE": unlimited,
            "QUEUE_MAX_DEPTH": "1000000",
            "QUEUE_MAX_PER_CLIENT": "1000000",
        }
        if self.args.default:
            self.env["DATABASE_URL"] = f"sqlite:///{self.folder / 'db.sqlite3'}"
            self.env["CELERY_BROKER_URL"] = "filesystem://"
            self.env["CELERY_BROKER_DIR"] = str(self.folder / "broker")
        else:
            self.redis_port = free_port()
            self.start_redis()
            self.env["DATABASE_URL"] = postgres_url(self.folder)
            self.env["CELERY_BROKER_URL"] = f"redis://127.0.0.1:{self.redis_port}/0"
        for name in ("CACHE_URL", "REDIS_CACHE_URL"):
            self.env.pop(name, None)  # each process's default (no shared Redis cache to restart)
        log(f"database {self.env['DATABASE_URL']}, broker {self.env['CELERY_BROKER_URL']}")
        manage(self.env, "migrate", "--noinput")
        manage(self.env, "createcachetable")
        manage(self.env, "setup_demos")

    def start_redis(self) -> None:
        self.redis = self.processes.start(
            "redis",
            ["redis-server", "--bind", "127.0.0.1", "--port", str(self.redis_port),
             "--save", "", "--appendonly", "no", "--dir", str(self.folder)],
            self.env or dict(os.environ),
        )  # fmt: skip
        wait_for(lambda: _redis_ping(self.redis_port), "redis-server", 20)

    def restart_redis(self) -> None:
        assert self.redis is not None
        self.redis.terminate()
        self.redis.wait(timeout=20)
        self.start_redis()

    def start(self) -> None:
        port = free_port()
        self.url = f"http://127.0.0.1:{port}"
        self.processes.start(
            "web",
            [str(BIN / "gunicorn"), "portfolio.wsgi", "--bind", f"127.0.0.1:{port}",
             "--workers", "2", "--threads", "4"],
            self.env,
        )  # fmt: skip
        self.processes.start(
            "beat", [str(BIN / "celery"), "-A", "portfolio", "beat", "--loglevel=INFO"], self.env
        )
        self.start_worker()
        wait_for(lambda: _http_ok(self.url + "/api/v1/demos/"), "the site", 120)

    def start_worker(self) -> None:
        self.worker_starts += 1
        self.worker = self.processes.start(
            "worker",
            [str(BIN / "celery"), "-A", "portfolio", "worker", "--loglevel=INFO",
             f"--concurrency={self.args.concurrency}", f"--hostname=bench{self.worker_starts}@%h"],
            self.env,
        )  # fmt: skip
        # Ready and warm: its start-up sweep has run in a pool process.
        offset = len(self.worker_log())
        swept = re.compile(r"sweep_predictions\[[^\]]+\] succeeded")
        wait_for(lambda: swept.search(self.worker_log()[offset:]), "the worker", 180)
        self.worker_ready_at = datetime.now(UTC)

    def worker_log(self) -> str:
        return (self.folder / "worker.log").read_text(errors="replace")

    def pool_processes(self) -> list[int]:
        assert self.worker is not None
        return children(self.worker.pid)


def _redis_ping(port: int) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=1) as s:
            s.sendall(b"PING\r\n")
            return s.recv(16).startswith(b"+PONG")
    except OSError:
        return False


def _http_ok(url: str) -> bool:
    parts = urlsplit(url)
    try:
        connection = http.client.HTTPConnection(parts.hostname, parts.port, timeout=5)
        connection.request("GET", parts.path)
        return connection.getresponse().status == 200
    except OSError:
        return False


# -- uploads --------------------------------------------------------------------------


def multipart(fields: dict[str, str], filename: str, data: bytes) -> tuple[bytes, str]:
    boundary = uuid.uuid4().hex
    parts = [
        f'--{boundary}\r\nContent-Disposition: form-data; name="{name}"\r\n\r\n{value}\r\n'.encode()
        for name, value in fields.items()
    ]
    parts.append(
        (
            f'--{boundary}\r\nContent-Disposition: form-data; name="image"; '
            f'filename="{filename}"\r\nContent-Type: image/jpeg\r\n\r\n'
        ).encode()
        + data
        + b"\r\n"
    )
    parts.append(f"--{boundary}--\r\n".encode())
    return b"".join(parts), f"multipart/form-data; boundary={boundary}"


class Uploads:
    """N uploads from a few clients, at most ``rate`` a second in all."""

    def __init__(self, url: str, total: int, clients: int, rate: float) -> None:
        self.url, self.total, self.clients, self.rate = url, total, clients, rate
        self.accepted: list[str] = []
        self.refused: Counter[str] = Counter()
        self.sent = 0
        self._lock = threading.Lock()
        self._numbers = itertools.count()
        self._started = time.monotonic()
        bodies = [
            multipart({"demo": "cats-vs-dogs"}, n, (EXAMPLES / n).read_bytes()) for n in PHOTOS
        ]
        self._bodies = itertools.cycle(bodies)

    def run(self) -> threading.Thread:
        threads = [threading.Thread(target=self._client, daemon=True) for _ in range(self.clients)]
        for thread in threads:
            thread.start()

        def join_all():
            for thread in threads:
                thread.join()

        joiner = threading.Thread(target=join_all, daemon=True)
        joiner.start()
        return joiner

    def _client(self) -> None:
        parts = urlsplit(self.url)
        while True:
            with self._lock:
                number = next(self._numbers)
                if number >= self.total:
                    return
                body, content_type = next(self._bodies)
            # Paced: upload number k leaves no earlier than k / rate seconds in.
            delay = self._started + number / self.rate - time.monotonic()
            if delay > 0:
                time.sleep(delay)
            try:
                connection = http.client.HTTPConnection(parts.hostname, parts.port, timeout=60)
                connection.request(
                    "POST", "/api/v1/predictions/", body=body,
                    headers={"Content-Type": content_type, "Accept": "application/json"},
                )  # fmt: skip
                response = connection.getresponse()
                payload = response.read()
                status = response.status
            except OSError as exc:
                status, payload = type(exc).__name__, b""
            with self._lock:
                self.sent += 1
                if status == 202:
                    self.accepted.append(json.loads(payload)["id"])
                else:
                    self.refused[str(status)] += 1


# -- measuring ------------------------------------------------------------------------


def rows(ids: list[str]) -> dict[str, dict]:
    from classifiers.models import Prediction

    found = {}
    for start in range(0, len(ids), 500):
        chunk = ids[start : start + 500]
        for row in Prediction.objects.filter(id__in=chunk).values(
            "id", "status", "attempts", "finished_at"
        ):
            found[str(row["id"])] = row
    return found


@dataclass
class Fault:
    name: str
    at: datetime
    hit: set[str]  # what this fault could have disrupted
    log_offset: int


def run(args: argparse.Namespace, folder: Path, processes: Processes) -> str:
    site = Site(args, folder, processes)
    site.set_up()
    # This process reads the rows (the answer is in the database, not the log).
    os.environ.update({k: site.env[k] for k in ("DATABASE_URL", "CELERY_BROKER_URL")})
    os.environ["DJANGO_LOCAL_DEV"] = "1"
    sys.path.insert(0, str(REPO))
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "portfolio.settings")
    import django

    django.setup()
    from django.utils import timezone

    site.start()
    log(f"site on {site.url}; worker pool {site.pool_processes()}")

    uploads = Uploads(site.url, args.n, args.clients, args.rate)
    submitting = uploads.run()
    log(f"submitting {args.n} uploads from {args.clients} clients, {args.rate}/s at most")

    def accepted_now() -> list[str]:
        with uploads._lock:
            return list(uploads.accepted)

    def snapshot(name: str, statuses: tuple[str, ...]) -> Fault:
        now = rows(accepted_now())
        hit = {pid for pid, row in now.items() if row["status"] in statuses}
        return Fault(name, timezone.now(), hit, len(site.worker_log()))

    def queued_now() -> int:
        return sum(1 for r in rows(accepted_now()).values() if r["status"] == "queued")

    def wait_until_running() -> None:
        """Until the current worker runs a prediction (not a row a dead one left)."""
        from classifiers.models import Prediction

        wait_for(
            lambda: Prediction.objects.filter(
                status="running", started_at__gt=site.worker_ready_at
            ).exists(),
            "a prediction running",
            120,
        )

    def wait_until_sent(fraction: float) -> None:
        wait_for(lambda: uploads.sent >= fraction * args.n, f"{fraction:.0%} sent", 600)

    faults: list[Fault] = []

    def kill_pool_process() -> None:
        wait_until_running()
        fault = snapshot("SIGKILL of a pool process", ("running",))
        pool = site.pool_processes()
        os.kill(pool[0], signal.SIGKILL)
        faults.append(fault)
        log(f"{fault.name} (pid {pool[0]}); {len(fault.hit)} running")

    def kill_main_worker() -> None:
        wait_until_running()
        fault = snapshot("SIGKILL of the main worker", ("running", "queued"))
        assert site.worker is not None
        os.kill(site.worker.pid, signal.SIGKILL)
        site.worker.wait(timeout=30)
        faults.append(fault)
        log(f"{fault.name} (pid {site.worker.pid}); {len(fault.hit)} unfinished; restarting")
        time.sleep(2)
        site.start_worker()
        log(f"worker started again; pool {site.pool_processes()}")

    def restart_redis() -> None:
        # While uploads wait in Redis (the worker is catching up after its
        # restart), so the restart loses messages, not only connections.
        wait_for(lambda: queued_now() >= 10, "uploads waiting in the queue", 60)
        fault = snapshot("restart of Redis", ("queued",))
        site.restart_redis()
        faults.append(fault)
        log(f"{fault.name}; {len(fault.hit)} queued")

    plan = [(0.15, kill_pool_process), (0.35, kill_main_worker)]
    if not args.default:
        plan.append((0.4, restart_redis))
    plan.append((0.75, kill_pool_process))
    for fraction, fault in plan:
        wait_until_sent(fraction)
        fault()

    submitting.join(timeout=900)
    last_fault = time.monotonic()
    log(f"all sent: {len(uploads.accepted)} accepted, refused {dict(uploads.refused) or 'none'}")

    def all_finished() -> bool:
        found = rows(accepted_now())
        return len(found) == len(uploads.accepted) and all(
            r["status"] in FINISHED for r in found.values()
        )

    deadline = last_fault + args.wait
    while time.monotonic() < deadline and not all_finished():
        time.sleep(1)

    found = rows(accepted_now())
    statuses = Counter(r["status"] for r in found.values())
    finished = sum(statuses[s] for s in FINISHED)
    lost = len(uploads.accepted) - finished
    worker_log = site.worker_log()
    answers = Counter(ANSWERED.findall(worker_log))
    duplicates = sum(1 for count in answers.values() if count > 1)

    recoveries = []
    for fault in faults:
        rung_again = set(RUNG_AGAIN.findall(worker_log[fault.log_offset :]))
        disrupted = {
            pid
            for pid in fault.hit
            if pid in rung_again or found.get(pid, {}).get("attempts", 0) > 1
        }
        ends = [found[pid]["finished_at"] for pid in disrupted if found[pid]["finished_at"]]
        if len(ends) < len(disrupted):
            recovery = float("inf")  # some never finished (also counted as lost)
        else:
            recovery = max(((end - fault.at).total_seconds() for end in ends), default=0.0)
        recoveries.append(recovery)
        log(f"{fault.name}: {len(disrupted)} disrupted, recovered in {recovery:.1f}s")

    print()
    mode = "make run default (SQLite + filesystem broker)" if args.default else "Redis + PostgreSQL"
    print(f"mode: {mode}")
    print(f"statuses: {dict(statuses)}; refused uploads: {dict(uploads.refused) or 'none'}")
    print(f"answers logged: {sum(answers.values())} for {len(answers)} predictions")
    worst = max(recoveries, default=0.0)
    return (
        f"accepted={len(uploads.accepted)} finished={finished} duplicates={duplicates} "
        f"lost={lost} worst_recovery_s={worst:.1f}"
    )


def _interrupt(signum, frame) -> None:
    raise KeyboardInterrupt


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("-n", type=int, default=300, help="uploads (default 300)")
    parser.add_argument("--default", action="store_true", help="the `make run` set-up")
    parser.add_argument("--clients", type=int, default=4, help="concurrent upload clients")
    parser.add_argument("--rate", type=float, default=3.0, help="uploads per second, at most")
    parser.add_argument("--concurrency", type=int, default=1, help="worker processes (make run: 1)")
    parser.add_argument("--wait", type=float, default=900, help="seconds to wait after the faults")
    parser.add_argument("--keep", action="store_true", help="keep the logs folder")
    args = parser.parse_args()
    if not args.default and not shutil.which("redis-server"):
        raise SystemExit("redis-server not found (or use --default)")

    folder = Path(tempfile.mkdtemp(prefix="faults-bench-"))
    processes = Processes(folder)
    signal.signal(signal.SIGTERM, _interrupt)  # a TERM stops everything, as Ctrl-C does
    summary = None
    try:
        summary = run(args, folder, processes)
    except KeyboardInterrupt:
        log("interrupted")
    finally:
        processes.stop_all()
        if not args.default:
            try:
                from django.db import connections

                connections.close_all()
            except Exception:  # noqa: BLE001  (Django may not be set up yet)
                pass
            drop_postgres_database()
        if args.keep:
            log(f"logs kept in {folder}")
        else:
            shutil.rmtree(folder, ignore_errors=True)
    if summary is None:
        raise SystemExit(1)
    print(summary)


if __name__ == "__main__":
    main()
