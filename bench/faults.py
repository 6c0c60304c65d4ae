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
import sys
import tempfile
import threading
import time
from collections import Counter
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from urllib.parse import urlsplit

from _stack import (
    EXAMPLES,
    REPO,
    Processes,
    Site,
    log,
    multipart,
    require_redis_server,
    wait_for,
)

PHOTOS = ["cat.jpg", "golden-retriever.jpg", "dalmatian.jpg", "fox-squirrel.jpg"]
BENCH_DATABASE = "faults_bench"
FINISHED = ("done", "rejected", "failed")
ANSWERED = re.compile(r"prediction ([0-9a-f-]{36}) answered")
RUNG_AGAIN = re.compile(r"prediction ([0-9a-f-]{36}) (?:lost its worker|rung again)")


@dataclass
class FaultsSite(Site):
    """The site, with a worker that counts as started once it has swept."""

    worker_ready_at: datetime | None = None

    def start(self) -> None:
        self.start_web()
        self.start_beat()
        self.start_ready_worker()
        self.wait_until_serving()

    def start_ready_worker(self) -> None:
        self.start_worker(f"--hostname=bench{self.worker_starts + 1}@%h")
        # Ready and warm: its start-up sweep has run in a pool process.
        offset = len(self.worker_log())
        swept = re.compile(r"sweep_predictions\[[^\]]+\] succeeded")
        wait_for(lambda: swept.search(self.worker_log()[offset:]), "the worker", 180)
        self.worker_ready_at = datetime.now(UTC)


# -- uploads --------------------------------------------------------------------------


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


def run(args: argparse.Namespace, site: FaultsSite) -> str:
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
        site.start_ready_worker()
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
    if not args.default:
        require_redis_server()

    folder = Path(tempfile.mkdtemp(prefix="faults-bench-"))
    site = FaultsSite(
        folder,
        Processes(folder),
        database=BENCH_DATABASE,
        default=args.default,
        worker_concurrency=args.concurrency,
    )
    signal.signal(signal.SIGTERM, _interrupt)  # a TERM stops everything, as Ctrl-C does
    summary = None
    try:
        summary = run(args, site)
    except KeyboardInterrupt:
        log("interrupted")
    finally:
        site.tear_down()
        if args.keep:
            log(f"logs kept in {folder}")
        else:
            shutil.rmtree(folder, ignore_errors=True)
    if summary is None:
        raise SystemExit(1)
    print(summary)


if __name__ == "__main__":
    main()
