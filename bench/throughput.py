"""Throughput of the site next to the model's own speed and a Gradio peer, in one run.

    .venv/bin/python bench/throughput.py                        # raw, site, peer: N=300, C=1,8,32
    .venv/bin/python bench/throughput.py -n 40 --clients 1,8    # a quicker run
    .venv/bin/python bench/throughput.py --only raw,site        # parts of it
    .venv/bin/python bench/throughput.py --demo dog-breeds

It starts everything it measures, one after the other on the same photos,
and stops it afterwards (also on Ctrl-C or an error):

- raw: the demo's promoted Keras model (the spec marked default, checked
  against the site's GET /api/v1/demos/) called directly in one process on
  preprocessed photos, traced, at batch 1 and 32: the ceiling.
- site: the site as `make run` serves it (gunicorn, a Celery worker and
  beat, with the command lines and exported variables of the Makefile's
  ``run`` target: bench/_stack.py reads them) on a free port, on a database
  of its own on the PostgreSQL of DATABASE_URL (or `.ci/run`'s default) and
  a redis-server of its own, with the per-client and queue limits lifted.
  N uploads to /api/v1/predictions/ from C concurrent clients, each asking
  for its prediction with ``?wait=20`` (a long poll: held until the answer is
  stored) and, if answered unfinished, again when ``queue.poll_after_ms``
  says. images/s runs from the first upload to the last stored answer
  (the rows' ``finished_at``); latency is each upload's, as its client saw
  it. The worker's processes are sampled for their peak memory (VmHWM), and
  its cold start is the time from starting it to its first answer.
- peer: a Gradio app (bench/_gradio_peer.py) serving the same .keras file
  in its best set-up (traced call, ``batch=True``, ``max_batch_size`` 32, a
  raised concurrency limit), with the site's own preprocessing, from the
  benchmark's own virtualenv (var/bench-venv, made when missing: gradio is
  no requirement of the site). The same clients send the same photos over
  plain HTTP: POST /gradio_api/upload, POST /gradio_api/call/predict, then
  the event stream until ``complete``.

Photos: the demo's example photos and, with ../shared/data (SHARED_DATA_DIR),
a fixed sample of real ones (catsdogs-kaggle, or breeds-kaggle for dog
breeds), all sent as they are on disk. Each system first answers one photo
(its cold start) and a warm-up of 32 uploads that are not counted. The parts
run one after the other, so each run also says how much of the machine's CPU
work other than the benchmark took meanwhile (``others``): compare figures
only where it is about the same.

It prints a table, then the lines ``site_vs_raw=`` (site images/s at C=32
over raw at batch 32), ``site_vs_gradio=`` (site over Gradio, both at C=32),
``latency_overhead_ms=`` (site p50 at C=1 less the raw batch-1 latency),
``worker_peak_rss_mb=`` (each worker process) and ``worker_cold_start_s=``.
"""

from __future__ import annotations

import argparse
import base64
import csv
import http.client
import importlib.metadata
import itertools
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from collections.abc import Callable, Sequence
from contextlib import nullcontext
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from urllib.parse import urlsplit

from _stack import (
    REPO,
    Processes,
    Site,
    children,
    database_backends,
    free_port,
    http_ok,
    log,
    multipart,
    peak_rss_mb,
    wait_for,
)

sys.path.insert(0, str(REPO))
from classifiers.catalog import DEMOS, version_spec  # noqa: E402  (Django-free)

BENCH_DATABASE = "throughput_bench"
GRADIO_VERSION = "6.31.0"
# The site's pins the peer must share (same network code, same decoding and resizing).
SHARED_PINS = ("tensorflow-cpu", "keras", "pillow")
# Shared photos per demo, when ../shared/data is there.
REAL_PHOTOS = {"cats-vs-dogs": "catsdogs-kaggle", "dog-breeds": "breeds-kaggle"}
ANSWERED = ("done", "rejected", "failed")  # a stored answer (failed is an answer too)
POLL_SECONDS = 0.25
UPLOAD_DEADLINE_S = 600
LONG_POLL_S = 20  # the most the API holds a status request (ANSWER_WAIT_MAX_SECONDS)


# -- photos -----------------------------------------------------------------------------


@dataclass(frozen=True)
class Photo:
    name: str
    data: bytes


def sample_rows(rows: Sequence[str], count: int) -> list[str]:
    """``count`` rows spread evenly over ``rows`` (a fixed rule: the same every run)."""
    if count >= len(rows):
        return list(rows)
    step = len(rows) / count
    return [rows[int(i * step)] for i in range(count)]


def photo_set(slug: str, shared: Path, count: int) -> tuple[list[Path], str]:
    demo = next(d for d in DEMOS if d["slug"] == slug)
    paths = [REPO / "static" / e["image"] for e in demo["examples"]]
    described = f"{len(paths)} example photos"
    folder = shared / REAL_PHOTOS.get(slug, "")
    if count and slug in REAL_PHOTOS and (folder / "labels.csv").exists():
        with (folder / "labels.csv").open() as f:
            rows = sorted(row["path"] for row in csv.DictReader(f))
        chosen = sample_rows(rows, count)
        paths += [folder / p for p in chosen]
        described += f" + {len(chosen)} of {folder.name}"
    elif count:
        described += f" (no real photos: {folder} not found)"
    return paths, described


def served_spec_file(slug: str) -> str:
    """The version `setup_demos` promotes on a fresh install: the spec marked default."""
    demo = next(d for d in DEMOS if d["slug"] == slug)
    files = demo["versions"]
    return next((f for f in files if version_spec(f).get("default")), files[0])


# -- figures ------------------------------------------------------------------------------


@dataclass
class Result:
    """One upload as its client saw it; times are wall-clock seconds."""

    photo: int
    sent: float
    known: float
    status: str  # done / rejected / failed, or why there is no answer (http 503, timeout...)
    label: str | None = None
    stored: float | None = None  # when the answer was stored (the site's row)
    version: int | None = None


@dataclass
class Figures:
    images_per_s: float
    p50_ms: float
    p95_ms: float
    answered: int
    statuses: dict[str, int]
    server_p50_ms: float | None = None
    client_cpu_s: float | None = None
    others: float | None = None  # the share of the machine other work took meanwhile
    cpu_ms: dict[str, float] = field(default_factory=dict)  # CPU ms per part, whole run
    page_ms: list[float] = field(default_factory=list)  # the gallery page, meanwhile


def percentile(values: Sequence[float], q: float) -> float:
    """The q-th percentile (0-100), interpolated between the nearest ranks."""
    ordered = sorted(values)
    if not ordered:
        return float("nan")
    rank = (len(ordered) - 1) * q / 100
    low = int(rank)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (rank - low)


def summarize(results: Sequence[Result], client_cpu_s: float | None = None) -> Figures:
    """Images/s from the first upload to the last answer (stored, where the
    server says when), and each upload's latency as its client saw it."""
    answered = [r for r in results if r.status in ANSWERED]
    statuses = dict(Counter(r.status for r in results))
    if not answered:
        return Figures(0.0, float("nan"), float("nan"), 0, statuses, None, client_cpu_s)
    start = min(r.sent for r in results)
    end = max(r.stored if r.stored is not None else r.known for r in answered)
    latencies = [(r.known - r.sent) * 1000 for r in answered]
    server = [(r.stored - r.sent) * 1000 for r in answered if r.stored is not None]
    return Figures(
        images_per_s=len(answered) / max(end - start, 1e-9),
        p50_ms=percentile(latencies, 50),
        p95_ms=percentile(latencies, 95),
        answered=len(answered),
        statuses=statuses,
        server_p50_ms=percentile(server, 50) if server else None,
        client_cpu_s=client_cpu_s,
    )


def ratio(numerator: float | None, denominator: float | None) -> str:
    if numerator is None or not denominator:
        return "n/a"
    return f"{numerator / denominator:.2f}"


@dataclass
class Report:
    """Everything measured, for the table and the summary lines."""

    heading: list[str] = field(default_factory=list)
    raw: dict | None = None
    site: dict[int, Figures] = field(default_factory=dict)
    peer: dict[int, Figures] = field(default_factory=dict)
    worker_peak_mb: dict[str, float] = field(default_factory=dict)  # "main 1234" -> MB
    worker_cold_start_s: float | None = None
    peer_peak_mb: float | None = None
    peer_cold_start_s: float | None = None
    notes: list[str] = field(default_factory=list)

    def table(self) -> str:
        def share(value: float | None) -> str:
            return "" if value is None else f"{value:.0%}"

        lines = [
            f"{'':<14}{'images/s':>10}{'p50 ms':>9}{'p95 ms':>9}{'stored p50':>12}"
            f"{'client CPU s':>14}{'others':>8}  answers"
        ]
        if self.raw:
            others = share(self.raw.get("others"))
            lines.append(
                f"{'raw batch 1':<14}{self.raw['batch1_images_per_s']:>10.1f}"
                f"{self.raw['batch1_p50_ms']:>9.1f}{'':>9}{'':>12}{'':>14}{others:>8}"
                "  (the model call alone)"
            )
            lines.append(
                f"{'raw batch 32':<14}{self.raw['batch32_images_per_s']:>10.1f}"
                f"{'':>9}{'':>9}{'':>12}{'':>14}{others:>8}"
            )
        for name, runs in (("site", self.site), ("gradio", self.peer)):
            for clients, f in sorted(runs.items()):
                stored = "" if f.server_p50_ms is None else f"{f.server_p50_ms:.0f}"
                cpu = "" if f.client_cpu_s is None else f"{f.client_cpu_s:.1f}"
                answers = " ".join(f"{k}={v}" for k, v in sorted(f.statuses.items()))
                lines.append(
                    f"{f'{name} C={clients}':<14}{f.images_per_s:>10.1f}{f.p50_ms:>9.0f}"
                    f"{f.p95_ms:>9.0f}{stored:>12}{cpu:>14}{share(f.others):>8}  {answers}"
                )
        lines.append(
            "stored p50: upload to stored answer (the row's finished_at); others: the share "
            "of the machine's CPU that work other than this benchmark took meanwhile"
        )
        return "\n".join(lines + self.cpu_table())

    def cpu_table(self) -> list[str]:
        """Where an upload's CPU goes: milliseconds per answered upload by part."""
        runs = [(c, f) for c, f in sorted(self.site.items()) if f.cpu_ms and f.answered]
        if not runs:
            return []
        parts = list(runs[0][1].cpu_ms)
        lines = [
            "",
            "CPU ms per upload  " + "".join(f"{p:>10}" for p in [*parts, "total"]),
        ]
        for clients, f in runs:
            per = [f.cpu_ms[p] / f.answered for p in parts]
            lines.append(
                f"{f'site C={clients}':<19}" + "".join(f"{v:>10.1f}" for v in [*per, sum(per)])
            )
        for clients, f in runs:
            if f.page_ms:
                lines.append(
                    f"site C={clients}: the gallery page meanwhile p50 "
                    f"{percentile(f.page_ms, 50):.0f} ms, p95 {percentile(f.page_ms, 95):.0f} ms "
                    f"(n={len(f.page_ms)})"
                )
        if self.raw and self.raw.get("batch32_cpu_ms_per_image"):
            lines.append(
                f"{'raw batch 32':<19}{self.raw['batch32_cpu_ms_per_image']:>10.1f}"
                "  (the model call alone, all its threads)"
            )
        return lines

    def summary_lines(self) -> list[str]:
        top = max(self.site, default=None)
        site_top = self.site[top].images_per_s if top is not None else None
        peer_same = self.peer[top].images_per_s if top in self.peer else None
        raw32 = self.raw["batch32_images_per_s"] if self.raw else None
        if 1 in self.site and self.raw:
            overhead = f"{self.site[1].p50_ms - self.raw['batch1_p50_ms']:.0f}"
        else:
            overhead = "n/a"
        memory = " ".join(f"{k}:{v:.0f}" for k, v in self.worker_peak_mb.items()) or "n/a"
        cold = "n/a" if self.worker_cold_start_s is None else f"{self.worker_cold_start_s:.1f}"
        return [
            f"site_vs_raw={ratio(site_top, raw32)}",
            f"site_vs_gradio={ratio(site_top, peer_same)}",
            f"latency_overhead_ms={overhead}",
            f"worker_peak_rss_mb={memory}",
            f"worker_cold_start_s={cold}",
        ]

    def render(self) -> str:
        extra = []
        if self.peer_peak_mb is not None:
            extra.append(f"gradio peak RSS {self.peer_peak_mb:.0f} MB")
        if self.peer_cold_start_s is not None:
            extra.append(f"gradio cold start {self.peer_cold_start_s:.1f} s")
        parts = [*self.heading, "", self.table(), ""]
        parts += [f"note: {n}" for n in self.notes]
        if extra:
            parts.append("; ".join(extra))
        return "\n".join([*parts, *self.summary_lines()])


# -- clients ------------------------------------------------------------------------------


class Client:
    """One HTTP/1.1 connection, kept alive as a browser keeps it."""

    def __init__(self, base_url: str, timeout: float = 120) -> None:
        parts = urlsplit(base_url)
        self.host, self.port, self.timeout = parts.hostname, parts.port, timeout
        self.connection: http.client.HTTPConnection | None = None

    def close(self) -> None:
        if self.connection is not None:
            self.connection.close()
            self.connection = None

    def _response(self, method: str, path: str, body: bytes | None, headers: dict):
        for attempt in range(2):
            reused = self.connection is not None
            if self.connection is None:
                self.connection = http.client.HTTPConnection(self.host, self.port, self.timeout)
            try:
                self.connection.request(method, path, body=body, headers=headers)
                return self.connection.getresponse()
            except (http.client.RemoteDisconnected, ConnectionResetError, BrokenPipeError):
                # A kept-alive connection the server had closed: once more on a new one.
                self.close()
                if not reused or attempt:
                    raise
        raise AssertionError("unreachable")

    def request(
        self, method: str, path: str, body: bytes | None = None, headers: dict | None = None
    ) -> tuple[int, http.client.HTTPMessage, bytes]:
        response = self._response(method, path, body, headers or {})
        data = response.read()
        if response.will_close:
            self.close()
        return response.status, response.headers, data

    def event(self, path: str, final: Sequence[str]) -> tuple[str, str]:
        """The first event named in ``final`` of a server-sent event stream, and
        its data; the rest of the stream is read so the connection can be reused."""
        response = self._response("GET", path, None, {"Accept": "text/event-stream"})
        if response.status != 200:
            response.read()
            raise OSError(f"event stream answered {response.status}")
        event, found = "", ("", "")
        for raw in response:
            line = raw.decode().rstrip("\r\n")
            if line.startswith("event:"):
                event = line[6:].strip()
            elif line.startswith("data:") and event in final:
                found = (event, line[5:].strip())
                break
        response.read()  # the server ends the stream after its last event
        if response.will_close:
            self.close()
        return found


def drive(
    base_url: str,
    total: int,
    clients: int,
    photos: int,
    one: Callable[[Client, int], Result],
) -> tuple[list[Result], float]:
    """``total`` uploads from ``clients`` closed-loop clients (each waits for its
    answer before sending the next), photos in turn; the results and the CPU
    seconds the clients spent."""
    numbers = itertools.count()
    lock = threading.Lock()
    results: list[Result] = []

    def client() -> None:
        connection = Client(base_url)
        try:
            while True:
                with lock:
                    number = next(numbers)
                if number >= total:
                    return
                photo = number % photos
                try:
                    result = one(connection, photo)
                except (OSError, http.client.HTTPException, ValueError, KeyError) as exc:
                    connection.close()
                    now = time.time()
                    result = Result(photo, now, now, f"error {type(exc).__name__}")
                with lock:
                    results.append(result)
        finally:
            connection.close()

    cpu = time.process_time()
    threads = [threading.Thread(target=client, daemon=True) for _ in range(clients)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return results, time.process_time() - cpu


def _timestamp(text: str | None) -> float | None:
    return datetime.fromisoformat(text).timestamp() if text else None


def poll_delay(
    headers: http.client.HTTPMessage | dict, body: dict | None = None, default: float = POLL_SECONDS
) -> float:
    """How long to wait before asking again: the API's own hint in the body
    (``queue.poll_after_ms``), else its Retry-After header, else the default."""
    queue = (body or {}).get("queue") or {}
    if isinstance(queue.get("poll_after_ms"), int | float):
        return min(max(queue["poll_after_ms"] / 1000, 0.0), 5.0)
    hint = headers.get("Retry-After")
    try:
        return min(max(float(hint), 0.0), 5.0) if hint is not None else default
    except ValueError:
        return default


class SiteClients:
    def __init__(self, demo: str, photos: list[Photo]) -> None:
        self.photos = photos
        self.bodies = [multipart({"demo": demo}, p.name, p.data) for p in photos]

    def one(self, client: Client, photo: int) -> Result:
        body, content_type = self.bodies[photo]
        sent = time.time()
        status, headers, data = client.request(
            "POST", "/api/v1/predictions/", body,
            {"Content-Type": content_type, "Accept": "application/json"},
        )  # fmt: skip
        if status != 202:
            return Result(photo, sent, time.time(), f"http {status}")
        created = json.loads(data)
        # A long poll, as the API offers it: held until the answer is stored
        # (or answered at once when the site has no Redis or no slot free,
        # and then asked again when the answer says).
        path = urlsplit(created["url"]).path + f"?wait={LONG_POLL_S}"
        delay = 0.0
        while True:
            time.sleep(delay)
            status, headers, data = client.request(
                "GET", path, None, {"Accept": "application/json"}
            )
            if status != 200:
                return Result(photo, sent, time.time(), f"http {status}")
            prediction = json.loads(data)
            if prediction["finished"]:
                break
            if time.time() - sent > UPLOAD_DEADLINE_S:
                return Result(photo, sent, time.time(), "timeout")
            delay = poll_delay(headers, prediction)
        return Result(
            photo,
            sent,
            time.time(),
            prediction["status"],
            label=(prediction.get("result") or {}).get("label"),
            stored=_timestamp(prediction.get("finished_at")),
            version=(prediction.get("model_version") or {}).get("number"),
        )


class GradioClients:
    """Gradio's REST queue API over plain HTTP (its Python client costs the
    client more CPU than the server)."""

    def __init__(self, photos: list[Photo], inline: bool) -> None:
        self.inline = inline
        self.uploads = [multipart({}, p.name, p.data, file_field="files") for p in photos]
        self.inlined = [
            {
                "url": "data:image/jpeg;base64," + base64.b64encode(p.data).decode(),
                "orig_name": p.name,
                "meta": {"_type": "gradio.FileData"},
            }
            for p in photos
        ]
        self.names = [p.name for p in photos]

    def one(self, client: Client, photo: int) -> Result:
        sent = time.time()
        if self.inline:
            image = self.inlined[photo]
        else:
            body, content_type = self.uploads[photo]
            status, _, data = client.request(
                "POST", "/gradio_api/upload", body, {"Content-Type": content_type}
            )
            if status != 200:
                return Result(photo, sent, time.time(), f"http {status}")
            image = {
                "path": json.loads(data)[0],
                "orig_name": self.names[photo],
                "meta": {"_type": "gradio.FileData"},
            }
        status, _, data = client.request(
            "POST", "/gradio_api/call/predict", json.dumps({"data": [image]}).encode(),
            {"Content-Type": "application/json"},
        )  # fmt: skip
        if status != 200:
            return Result(photo, sent, time.time(), f"http {status}")
        event_id = json.loads(data)["event_id"]
        path = f"/gradio_api/call/predict/{event_id}"
        event, payload = client.event(path, final=("complete", "error"))
        if event == "complete":
            answer = json.loads(payload)[0]
            return Result(photo, sent, time.time(), answer["status"], label=answer["label"])
        return Result(photo, sent, time.time(), "failed" if event == "error" else "no answer")


# -- memory and the machine ---------------------------------------------------------------


def cpu_ticks() -> dict[int, tuple[int, int]]:
    """Every process: its parent and the CPU ticks it has used so far."""
    found = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                # pid (comm) state ppid ... utime stime: comm may hold spaces.
                fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
            except OSError:
                continue
            found[int(entry.name)] = (int(fields[1]), int(fields[11]) + int(fields[12]))
    return found


def descendants(root: int, parents: dict[int, int]) -> set[int]:
    family, todo = {root}, [root]
    kids: dict[int, list[int]] = {}
    for pid, parent in parents.items():
        kids.setdefault(parent, []).append(pid)
    while todo:
        for kid in kids.get(todo.pop(), []):
            if kid not in family:
                family.add(kid)
                todo.append(kid)
    return family


class Sampling:
    """Calls ``sample()`` every ``interval`` seconds on a thread of its own
    while the ``with`` block runs (OtherWork, PageProbe, PeakMemory)."""

    interval = 0.5

    def __init__(self) -> None:
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def __enter__(self):
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._stop.set()
        self._thread.join()

    def _run(self) -> None:
        while not self._stop.wait(self.interval):
            self.sample()

    def sample(self) -> None:
        raise NotImplementedError


class OtherWork(Sampling):
    """The share of the machine's CPU that processes other than this benchmark
    and what it started used while it measured (sampled every second; a
    process that ends between two samples loses its last second: a floor)."""

    interval = 1.0

    def __init__(self) -> None:
        super().__init__()
        self.ticks = 0
        self.share: float | None = None
        self._last: dict[int, int] | None = None

    def __enter__(self) -> OtherWork:
        self._started = time.monotonic()
        self.sample()
        return super().__enter__()

    def __exit__(self, *exc) -> None:
        super().__exit__(*exc)
        self.sample()
        elapsed = time.monotonic() - self._started
        capacity = elapsed * os.sysconf("SC_CLK_TCK") * (os.cpu_count() or 1)
        self.share = self.ticks / capacity if capacity else None

    def sample(self) -> None:
        now = cpu_ticks()
        ours = descendants(os.getpid(), {pid: parent for pid, (parent, _) in now.items()})
        last = self._last
        if last is not None:
            for pid, (_, ticks) in now.items():
                if pid not in ours:
                    self.ticks += ticks - last.get(pid, 0)  # a new process: all it used
        self._last = {pid: ticks for pid, (_, ticks) in now.items()}


class PageProbe(Sampling):
    """A visitor who opens the gallery page every half second while the
    uploads run: how fast pages stay while the worker is saturated."""

    def __init__(self, base_url: str, path: str = "/") -> None:
        super().__init__()
        self.client = Client(base_url)
        self.path = path
        self.ms: list[float] = []

    def __exit__(self, *exc) -> None:
        super().__exit__(*exc)
        self.client.close()

    def sample(self) -> None:
        started = time.perf_counter()
        status, _, _ = self.client.request("GET", self.path, None, {"Accept": "text/html"})
        if status == 200:
            self.ms.append((time.perf_counter() - started) * 1000)


class CpuAccount:
    """CPU milliseconds each part of the site used while it measured: the web
    (gunicorn and its workers), the worker (Celery and its pool), beat, the
    broker (the benchmark's own redis-server) and the database (PostgreSQL
    backends connected to the benchmark's database). ``parts`` is called at
    the start and the end for the pids of each part; a process that ends in
    between loses what it used (a floor)."""

    def __init__(self, parts: Callable[[], dict[str, set[int]]]) -> None:
        self.parts = parts
        self.ms: dict[str, float] = {}

    def __enter__(self) -> CpuAccount:
        self._before = {pid: ticks for pid, (_, ticks) in cpu_ticks().items()}
        return self

    def __exit__(self, *exc) -> None:
        after = {pid: ticks for pid, (_, ticks) in cpu_ticks().items()}
        per_tick_ms = 1000 / os.sysconf("SC_CLK_TCK")
        self.ms = {
            part: sum(after.get(pid, 0) - self._before.get(pid, 0) for pid in pids) * per_tick_ms
            for part, pids in self.parts().items()
        }


class PeakMemory(Sampling):
    """The peak resident set (VmHWM) of a process and all its descendants,
    sampled every half second while running (pool processes may come and go)."""

    def __init__(self, root: int) -> None:
        super().__init__()
        self.root = root
        self.peaks: dict[int, float] = {}

    def __exit__(self, *exc) -> None:
        super().__exit__(*exc)
        self.sample()

    def sample(self) -> None:
        found, todo = [], [self.root]
        while todo:
            pid = todo.pop()
            found.append(pid)
            todo += children(pid)
        for pid in found:
            peak = peak_rss_mb(pid)
            if peak is not None:
                self.peaks[pid] = max(peak, self.peaks.get(pid, 0.0))

    def labelled(self) -> dict[str, float]:
        """ "main" for the root, "pool<pid>" for the others."""
        return {
            ("main" if pid == self.root else f"pool{pid}"): mb
            for pid, mb in sorted(self.peaks.items(), key=lambda item: item[0] != self.root)
        }


# -- the three parts ----------------------------------------------------------------------


def site_parts(site: Site) -> dict[str, set[int]]:
    """The pids of each part of the site, for CpuAccount."""
    parents = {pid: parent for pid, (parent, _) in cpu_ticks().items()}

    def family(process: subprocess.Popen | None) -> set[int]:
        return descendants(process.pid, parents) if process is not None else set()

    return {
        "web": family(site.web),
        "worker": family(site.worker),
        "beat": family(site.beat),
        "broker": family(site.redis),
        "database": database_backends(BENCH_DATABASE),
    }


@dataclass
class Bench:
    args: argparse.Namespace
    folder: Path
    photo_paths: list[Path]
    photos: list[Photo]
    spec_file: str
    model_path: Path
    report: Report
    labels: dict[str, dict[int, set]] = field(default_factory=dict)

    def measure_raw(self) -> None:
        log("raw: the model alone, batch 1 and 32")
        with OtherWork() as others:
            done = subprocess.run(
                [sys.executable, str(REPO / "bench" / "_served_model.py"), "raw",
                 "--demo", self.args.demo, "--spec", self.spec_file,
                 "--model", str(self.model_path), *map(str, self.photo_paths)],
                cwd=REPO, capture_output=True, text=True,
                env={**os.environ, "TF_CPP_MIN_LOG_LEVEL": "2"},
            )  # fmt: skip
        if done.returncode:
            raise SystemExit(f"the raw measurement failed:\n{done.stderr[-3000:]}")
        self.report.raw = json.loads(done.stdout.strip().splitlines()[-1])
        self.report.raw["others"] = others.share
        log(f"raw: {self.report.raw}")

    def runs(
        self,
        name: str,
        url: str,
        one: Callable[[Client, int], Result],
        parts: Callable[[], dict[str, set[int]]] | None = None,
    ) -> dict:
        figures = {}
        warmup = min(self.args.warmup, self.args.n)
        if warmup:
            drive(url, warmup, max(self.args.clients), len(self.photos), one)
        for clients in self.args.clients:
            with (
                OtherWork() as others,
                CpuAccount(parts or dict) as account,
                PageProbe(url) if parts else nullcontext() as probe,
            ):
                results, cpu = drive(url, self.args.n, clients, len(self.photos), one)
            figures[clients] = summarize(results, cpu)
            figures[clients].others = others.share
            figures[clients].cpu_ms = account.ms
            figures[clients].page_ms = probe.ms if probe else []
            f = figures[clients]
            log(f"{name} C={clients}: {f.images_per_s:.1f} images/s, p50 {f.p50_ms:.0f} ms, "
                f"p95 {f.p95_ms:.0f} ms, {f.statuses}")  # fmt: skip
            for r in results:
                self.labels.setdefault(name, {}).setdefault(r.photo, set()).add(r.label)
            versions = {r.version for r in results if r.version is not None}
            if len(versions) > 1:
                self.report.notes.append(f"{name} C={clients}: answers by versions {versions}")
        return figures

    def cold_answer(self, url: str, one: Callable[[Client, int], Result]) -> Result:
        client = Client(url)
        try:
            return one(client, 0)
        finally:
            client.close()

    def measure_site(self) -> None:
        site = Site(self.folder, Processes(self.folder), database=BENCH_DATABASE,
                    own_redis=bool(shutil.which("redis-server")),
                    cache_on_redis=True,
                    make_overrides=tuple(self.args.layout.split()))  # fmt: skip
        try:
            site.set_up()
            site.start_web()
            site.start_beat()
            assert site.layout is not None
            for name, command in zip(("web", "worker", "beat"), site.layout, strict=True):
                log(f"site {name} (as `make run`): {command.shell()}")
            site.wait_until_serving()
            self.check_promoted(site.url)
            clients = SiteClients(self.args.demo, self.photos)
            started = time.time()
            worker = site.start_worker()
            with PeakMemory(worker.pid) as memory:
                first = self.cold_answer(site.url, clients.one)
                self.report.worker_cold_start_s = (first.stored or first.known) - started
                log(f"site: worker's first answer ({first.status}) "
                    f"{self.report.worker_cold_start_s:.1f} s after its start")  # fmt: skip
                self.report.site = self.runs(
                    "site", site.url, clients.one, parts=lambda: site_parts(site)
                )
            self.report.worker_peak_mb = memory.labelled()
        finally:
            site.tear_down()

    def check_promoted(self, url: str) -> None:
        client = Client(url)
        try:
            _, _, data = client.request("GET", "/api/v1/demos/")
        finally:
            client.close()
        demo = next(d for d in json.loads(data) if d["slug"] == self.args.demo)
        number = (demo.get("promoted_version") or {}).get("number")
        if number != version_spec(self.spec_file)["number"]:
            self.report.notes.append(
                f"the site serves v{number}, raw and peer use {self.spec_file}: not comparable"
            )

    def measure_peer(self) -> None:
        python = ensure_bench_venv(Path(self.args.bench_venv))
        processes = Processes(self.folder)
        port = free_port()
        url = f"http://127.0.0.1:{port}"
        env = {
            **os.environ,
            "GRADIO_ANALYTICS_ENABLED": "False",
            "HF_HUB_OFFLINE": "1",
            "GRADIO_TEMP_DIR": str(self.folder / "gradio"),
            "TF_CPP_MIN_LOG_LEVEL": "2",
            "PYTHONUNBUFFERED": "1",
        }
        clients = GradioClients(self.photos, inline=self.args.gradio_input == "inline")
        try:
            started = time.time()
            peer = processes.start(
                "gradio",
                [str(python), str(REPO / "bench" / "_gradio_peer.py"), "--port", str(port),
                 "--demo", self.args.demo, "--spec", self.spec_file,
                 "--model", str(self.model_path),
                 "--max-batch-size", "32", "--concurrency", str(self.args.gradio_concurrency)],
                env,
            )  # fmt: skip
            with PeakMemory(peer.pid) as memory:
                wait_for(lambda: http_ok(url + "/gradio_api/info"), "the Gradio app", 300)
                first = self.cold_answer(url, clients.one)
                self.report.peer_cold_start_s = first.known - started
                log(f"gradio: first answer ({first.status}) "
                    f"{self.report.peer_cold_start_s:.1f} s after its start")  # fmt: skip
                self.report.peer = self.runs("gradio", url, clients.one)
            self.report.peer_peak_mb = max(memory.peaks.values(), default=None)
        finally:
            processes.stop_all()

    def compare_answers(self) -> None:
        site, peer = self.labels.get("site", {}), self.labels.get("gradio", {})
        common = sorted(set(site) & set(peer))
        if common:
            same = sum(1 for p in common if site[p] == peer[p] and len(site[p]) == 1)
            self.report.notes.append(
                f"site and gradio gave the same answer on {same} of {len(common)} photos"
            )


def requirement_pins(text: str, names: Sequence[str]) -> list[str]:
    """``name==version`` lines of a requirements file for the given names."""
    pins = {}
    for line in text.splitlines():
        match = re.match(r"^\s*([A-Za-z0-9_.\-]+)(?:\[[^\]]*\])?==([^\s;#]+)", line)
        if match and match.group(1).lower() in names:
            pins[match.group(1).lower()] = f"{match.group(1).lower()}=={match.group(2)}"
    missing = set(names) - set(pins)
    if missing:
        raise SystemExit(f"requirements.txt pins no {', '.join(sorted(missing))}")
    return [pins[name] for name in names]


def ensure_bench_venv(venv: Path) -> Path:
    """The benchmark's own virtualenv with the pinned Gradio and the site's
    pins of TensorFlow, Keras, Pillow and numpy; made (or remade) when missing
    or when a pin changed."""
    pins = requirement_pins((REPO / "requirements.txt").read_text(), SHARED_PINS)
    pins.append(f"numpy=={importlib.metadata.version('numpy')}")  # what the site runs
    wanted = "\n".join([f"gradio=={GRADIO_VERSION}", *pins]) + "\n"
    python = venv / "bin" / "python"
    stamp = venv / ".bench-pins"
    if python.exists() and stamp.exists() and stamp.read_text() == wanted:
        return python
    log(f"making {venv} ({wanted.strip().replace(chr(10), ', ')})")
    install_log = venv.parent / f"{venv.name}-install.log"
    venv.parent.mkdir(parents=True, exist_ok=True)
    pillow = next(p for p in pins if p.startswith("pillow=="))
    others = [p for p in pins if p != pillow]
    with install_log.open("w") as out:
        steps = [
            [sys.executable, "-m", "venv", "--clear", str(venv)],
            [str(python), "-m", "pip", "install", "--quiet", f"gradio=={GRADIO_VERSION}", *others],
            # Gradio 6.31 asks for pillow<13; the site pins 13: the peer must
            # decode and resize as the site does, so the site's Pillow wins.
            [str(python), "-m", "pip", "install", "--quiet", "--no-deps", pillow],
        ]
        for step in steps:
            if subprocess.run(step, stdout=out, stderr=subprocess.STDOUT).returncode:
                raise SystemExit(f"could not make {venv}: see {install_log}")
    stamp.write_text(wanted)
    return python


def _interrupt(signum, frame) -> None:
    raise KeyboardInterrupt


def _counts(text: str) -> list[int]:
    return [int(c) for c in text.split(",") if c.strip()]


def main() -> None:
    imagenet = [d["slug"] for d in DEMOS if d["kind"] == "imagenet-subset"]
    parser = argparse.ArgumentParser(
        description=__doc__.split("\n\n")[0], formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("-n", type=int, default=300, help="uploads per run (default 300)")
    parser.add_argument(
        "--clients",
        type=_counts,
        default=[1, 8, 32],
        help="concurrent clients, one run each (default 1,8,32)",
    )
    parser.add_argument("--only", default="raw,site,peer", help="parts: raw,site,peer")
    parser.add_argument("--demo", default="cats-vs-dogs", choices=imagenet)
    parser.add_argument(
        "--photos",
        type=int,
        default=40,
        help="real photos sampled from ../shared/data (0: examples only)",
    )
    parser.add_argument("--warmup", type=int, default=32, help="uploads not counted, per system")
    parser.add_argument(
        "--gradio-concurrency",
        type=int,
        default=4,
        help="Gradio's concurrency limit (batches at once)",
    )
    parser.add_argument(
        "--gradio-input",
        choices=["upload", "inline"],
        default="upload",
        help="send the photo by /gradio_api/upload, or inline as a data URL",
    )
    parser.add_argument(
        "--layout",
        default="",
        help="make variables for another process layout, e.g. 'GUNICORN_THREADS=8 "
        "WORKER_CONCURRENCY=2 TF_NUM_INTRAOP_THREADS=1 PREDICTION_BATCH_SIZE=32'",
    )
    parser.add_argument("--bench-venv", default=str(REPO / "var" / "bench-venv"))
    parser.add_argument("--keep", action="store_true", help="keep the logs folder")
    args = parser.parse_args()
    parts = {p.strip() for p in args.only.split(",") if p.strip()}
    if parts - {"raw", "site", "peer"} or not parts:
        parser.error("--only takes raw, site and peer")
    args.clients = sorted(set(args.clients))

    shared = Path(os.environ.get("SHARED_DATA_DIR", REPO.parent / "shared" / "data"))
    paths, described = photo_set(args.demo, shared, args.photos)
    spec_file = served_spec_file(args.demo)
    spec = version_spec(spec_file)
    models = Path(os.environ.get("ML_MODELS_DIR", REPO / "ml_models"))
    report = Report(
        heading=[
            f"demo {args.demo}: v{spec['number']} {spec['name']} ({spec['artifact']})",
            f"photos: {described}; N={args.n} uploads per run; clients {args.clients}; "
            f"site clients long-poll (?wait={LONG_POLL_S}), else ask again when the answer says",
            f"site layout: {args.layout or 'the Makefile defaults'}",
            f"gradio {GRADIO_VERSION}: traced call, batch=True, max_batch_size=32, "
            f"concurrency_limit={args.gradio_concurrency}, photos by "
            f"{'data URL' if args.gradio_input == 'inline' else '/gradio_api/upload'}",
            f"machine: {os.cpu_count()} CPUs, load average "
            f"{' '.join(f'{x:.2f}' for x in os.getloadavg())} at the start",
        ]
    )
    if "peer" in parts:
        ensure_bench_venv(Path(args.bench_venv))  # before anything is timed
    folder = Path(tempfile.mkdtemp(prefix="throughput-bench-"))
    bench = Bench(
        args,
        folder,
        paths,
        [Photo(p.name, p.read_bytes()) for p in paths],
        spec_file,
        models / spec["artifact"],
        report,
    )
    signal.signal(signal.SIGTERM, _interrupt)  # a TERM stops everything, as Ctrl-C does
    finished = False
    try:
        if "raw" in parts:
            bench.measure_raw()
        if "site" in parts:
            bench.measure_site()
        if "peer" in parts:
            bench.measure_peer()
        bench.compare_answers()
        finished = True
    except KeyboardInterrupt:
        log("interrupted")
    finally:
        if args.keep:
            log(f"logs kept in {folder}")
        else:
            shutil.rmtree(folder, ignore_errors=True)
    if not finished:
        raise SystemExit(1)
    load = " ".join(f"{x:.2f}" for x in os.getloadavg())
    report.notes.append(f"load average {load} at the end (other work on the machine shows here)")
    print()
    print(report.render())


if __name__ == "__main__":
    main()
