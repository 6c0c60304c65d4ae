"""Reads for the staff's queue page and its JSON twin: how deep the queue is,
which workers beat, how many answers the last hour brought, how long they
took and what failed, per model version.

Everything comes from the ``Prediction`` rows (no broker inspection, no other
service), so the page works wherever the site does: on PostgreSQL and on the
SQLite of ``make run``. Counts and groupings run in SQL; so do percentiles,
by nearest rank (ORDER BY with an OFFSET), so an hour of rows is never read
into Python however busy the site is.
"""

from __future__ import annotations

import math
from collections import Counter
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.conf import settings
from django.db.models import (
    Count,
    DurationField,
    ExpressionWrapper,
    F,
    Max,
    Min,
    Q,
    QuerySet,
)
from django.db.models.functions import TruncMinute
from django.utils import timezone

from classifiers.models import FINISHED_STATUSES, Prediction, PredictionStatus

WINDOW_MINUTES = 60
BUCKET_MINUTES = 5
ANSWERED = (PredictionStatus.DONE, PredictionStatus.REJECTED)


@dataclass(frozen=True)
class QueueDepth:
    queued: int
    running: int
    oldest_queued_at: datetime | None
    oldest_queued_seconds: float | None
    requeued: int  # waiting again after a worker was lost while running them
    lost: int  # running, but no heartbeat within the stale window: the sweep takes them back


@dataclass(frozen=True)
class Workers:
    # Claims that beat within ``alive_window_seconds``: one per busy worker
    # process (a batch of photos shares its claim). An idle worker has
    # nothing to beat for, so 0 with an empty queue is not an alarm.
    busy: int
    alive_window_seconds: float
    last_heartbeat_at: datetime | None
    last_answer_at: datetime | None


@dataclass(frozen=True)
class Bucket:
    start: datetime
    minutes: int
    answered: int  # done or rejected: the model gave an answer
    failed: int

    @property
    def per_minute(self) -> float:
        return self.answered / self.minutes


@dataclass(frozen=True)
class Latency:
    count: int
    p50_seconds: float | None
    p95_seconds: float | None


@dataclass(frozen=True)
class VersionFailures:
    demo_slug: str
    demo_title: str
    version_number: int | None  # None: failed before any worker took it
    version_name: str
    finished: int
    failed: int
    top_error: str
    top_error_count: int

    @property
    def failure_rate(self) -> float:
        return self.failed / self.finished if self.finished else 0.0


@dataclass(frozen=True)
class QueueReport:
    generated_at: datetime
    since: datetime
    depth: QueueDepth
    workers: Workers
    minutes: list[Bucket]  # one per minute of the window, oldest first
    buckets: list[Bucket]  # one per BUCKET_MINUTES, oldest first
    upload_to_answer: Latency
    claim_to_answer: Latency
    versions: list[VersionFailures]
    warnings: list[str]

    @property
    def window_seconds(self) -> float:
        return (self.generated_at - self.since).total_seconds()

    @property
    def answered(self) -> int:
        return sum(bucket.answered for bucket in self.minutes)

    @property
    def failed(self) -> int:
        return sum(bucket.failed for bucket in self.minutes)

    @property
    def answers_per_minute(self) -> float:
        return self.answered / WINDOW_MINUTES


def queue_report(*, now: datetime | None = None) -> QueueReport:
    """The figures of the queue page, as of ``now``.

    The hour is the last WINDOW_MINUTES clock minutes, this one included, so
    that each minute of the chart is a whole minute of the clock.
    """
    now = now or timezone.now()
    since = now.replace(second=0, microsecond=0) - timedelta(minutes=WINDOW_MINUTES - 1)
    alive_after = now - timedelta(seconds=settings.PREDICTION_STALE_SECONDS)
    depth, workers = _depth_and_workers(now=now, alive_after=alive_after)
    minutes = _minutes(since=since)
    finished = Prediction.objects.filter(finished_at__gte=since, status__in=ANSWERED)
    report = QueueReport(
        generated_at=now,
        since=since,
        depth=depth,
        workers=workers,
        minutes=minutes,
        buckets=[
            _merge(minutes[i : i + BUCKET_MINUTES]) for i in range(0, len(minutes), BUCKET_MINUTES)
        ],
        upload_to_answer=_latency(finished, F("finished_at") - F("created_at")),
        claim_to_answer=_latency(
            finished.exclude(started_at=None), F("finished_at") - F("started_at")
        ),
        versions=_versions(since=since),
        warnings=[],
    )
    report.warnings.extend(_warnings(report))
    return report


def _depth_and_workers(*, now: datetime, alive_after: datetime) -> tuple[QueueDepth, Workers]:
    queued = Q(status=PredictionStatus.QUEUED)
    running = Q(status=PredictionStatus.RUNNING)
    # One pass over the unfinished rows (the (status, created_at) index).
    row = Prediction.objects.filter(queued | running).aggregate(
        queued=Count("id", filter=queued),
        running=Count("id", filter=running),
        oldest_queued_at=Min("created_at", filter=queued),
        requeued=Count("id", filter=queued & Q(attempts__gt=0)),
        lost=Count(
            "id",
            filter=running
            & (
                Q(heartbeat_at__lt=alive_after)
                | Q(heartbeat_at__isnull=True, started_at__lt=alive_after)
            ),
        ),
        # The claim token (started_at) is one per worker process at a time.
        busy=Count("started_at", distinct=True, filter=running & Q(heartbeat_at__gte=alive_after)),
        last_heartbeat_at=Max("heartbeat_at", filter=running),
    )
    # Newest first down the finished_at index, stopping at the first answer:
    # unlike MAX() with a WHERE, cheap on SQLite too however long the history.
    last_answer_at = (
        Prediction.objects.filter(status__in=ANSWERED, finished_at__isnull=False)
        .order_by("-finished_at")
        .values_list("finished_at", flat=True)
        .first()
    )
    oldest = row["oldest_queued_at"]
    depth = QueueDepth(
        queued=row["queued"],
        running=row["running"],
        oldest_queued_at=oldest,
        oldest_queued_seconds=max((now - oldest).total_seconds(), 0.0) if oldest else None,
        requeued=row["requeued"],
        lost=row["lost"],
    )
    workers = Workers(
        busy=row["busy"],
        alive_window_seconds=float(settings.PREDICTION_STALE_SECONDS),
        last_heartbeat_at=row["last_heartbeat_at"],
        last_answer_at=last_answer_at,
    )
    return depth, workers


def _minutes(*, since: datetime) -> list[Bucket]:
    """Answers and failures per clock minute since ``since`` (grouped in SQL:
    at most two rows a minute come back)."""
    counts = (
        Prediction.objects.filter(finished_at__gte=since, status__in=FINISHED_STATUSES)
        .annotate(minute=TruncMinute("finished_at"))
        .values("minute")
        .annotate(
            answered=Count("id", filter=Q(status__in=ANSWERED)),
            failed=Count("id", filter=Q(status=PredictionStatus.FAILED)),
        )
        .order_by()
    )
    by_minute = {row["minute"]: (row["answered"], row["failed"]) for row in counts}
    minutes = []
    for i in range(WINDOW_MINUTES):
        start = since + timedelta(minutes=i)
        answered, failed = by_minute.get(start, (0, 0))
        minutes.append(Bucket(start=start, minutes=1, answered=answered, failed=failed))
    return minutes


def _merge(minutes: list[Bucket]) -> Bucket:
    return Bucket(
        start=minutes[0].start,
        minutes=len(minutes),
        answered=sum(m.answered for m in minutes),
        failed=sum(m.failed for m in minutes),
    )


def _latency(rows: QuerySet[Prediction], duration) -> Latency:
    """p50 and p95 of ``duration`` over ``rows``, by nearest rank: the value
    at rank ceil(p * n) of the sorted durations, read with one LIMIT 1 OFFSET
    query each (the database sorts; no row list comes back)."""
    ordered = (
        rows.annotate(duration=ExpressionWrapper(duration, output_field=DurationField()))
        .order_by("duration")
        .values_list("duration", flat=True)
    )
    n = rows.count()
    if n == 0:
        return Latency(count=0, p50_seconds=None, p95_seconds=None)

    def at(p: float) -> float | None:
        rank = max(math.ceil(p * n), 1) - 1
        # Rows deleted since the count (an owner clearing their history) can
        # leave the rank past the end: the largest left is the nearest then.
        found = list(ordered[rank : rank + 1]) or list(ordered.reverse()[:1])
        return found[0].total_seconds() if found else None

    return Latency(count=n, p50_seconds=at(0.50), p95_seconds=at(0.95))


def _versions(*, since: datetime) -> list[VersionFailures]:
    """Per demo and model version: what finished since ``since``, what failed,
    and the failure message read most often (ties: the first in text order)."""
    finished = Prediction.objects.filter(finished_at__gte=since, status__in=FINISHED_STATUSES)
    key = ("demo__slug", "demo__title", "model_version__number", "model_version__name")
    totals = (
        finished.values(*key)
        .annotate(
            finished=Count("id"), failed=Count("id", filter=Q(status=PredictionStatus.FAILED))
        )
        .order_by()
    )
    errors: dict[tuple, Counter] = {}
    for row in (
        finished.filter(status=PredictionStatus.FAILED)
        .values("demo__slug", "model_version__number", "error")
        .annotate(n=Count("id"))
        .order_by()
    ):
        errors.setdefault((row["demo__slug"], row["model_version__number"]), Counter())[
            row["error"]
        ] += row["n"]
    versions = []
    for row in totals:
        counter = errors.get((row["demo__slug"], row["model_version__number"]), Counter())
        top_error, top_count = min(
            counter.items(), key=lambda item: (-item[1], item[0]), default=("", 0)
        )
        versions.append(
            VersionFailures(
                demo_slug=row["demo__slug"],
                demo_title=row["demo__title"],
                version_number=row["model_version__number"],
                version_name=row["model_version__name"] or "",
                finished=row["finished"],
                failed=row["failed"],
                top_error=top_error,
                top_error_count=top_count,
            )
        )
    versions.sort(key=lambda v: (-v.failed, v.demo_slug, -(v.version_number or 0)))
    return versions


def _warnings(report: QueueReport) -> list[str]:
    """What needs a person now, in words."""
    warnings = []
    depth, workers = report.depth, report.workers
    window = workers.alive_window_seconds
    if (
        depth.queued
        and workers.busy == 0
        and depth.oldest_queued_seconds is not None
        and depth.oldest_queued_seconds > window
    ):
        warnings.append(
            f"{depth.queued} {_photos(depth.queued)} waiting, the oldest for "
            f"{duration_text(depth.oldest_queued_seconds)}, and no worker has beaten in the "
            f"last {duration_text(window)}: are the workers running?"
        )
    if depth.lost:
        warnings.append(
            f"{depth.lost} running {_photos(depth.lost)} lost {_their(depth.lost)} worker "
            f"(no heartbeat in {duration_text(window)}): the sweep queues "
            f"{_them(depth.lost)} again, or fails {_them(depth.lost)} after "
            f"{settings.PREDICTION_MAX_ATTEMPTS} tries."
        )
    return warnings


def _photos(n: int) -> str:
    return "photo" if n == 1 else "photos"


def _their(n: int) -> str:
    return "its" if n == 1 else "their"


def _them(n: int) -> str:
    return "it" if n == 1 else "them"


def duration_text(seconds: float | None) -> str:
    """A span as a person reads it: 850 ms, 4.2 s, 3 min 20 s, 2 h 5 min."""
    if seconds is None:
        return "—"
    if seconds < 1:
        return f"{seconds * 1000:.0f} ms"
    if seconds < 10:
        return f"{seconds:.1f} s"
    if seconds < 60:
        return f"{seconds:.0f} s"
    minutes, secs = divmod(round(seconds), 60)
    if minutes < 60:
        return f"{minutes} min {secs} s" if secs else f"{minutes} min"
    hours, minutes = divmod(minutes, 60)
    return f"{hours} h {minutes} min" if minutes else f"{hours} h"
