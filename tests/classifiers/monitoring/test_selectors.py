"""The queue monitor's figures, on crafted rows whose every timestamp is set.

DB-agnostic on purpose: test_selectors_sqlite.py runs this module on SQLite
too (the suite runs on PostgreSQL; `make run` serves from SQLite)."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.test import override_settings

from classifiers.models import PredictionStatus
from classifiers.monitoring.charts import minute_bars
from classifiers.monitoring.selectors import duration_text, queue_report
from classifiers.predictions.worker import NEVER_TAKEN
from tests.classifiers.monitoring.conftest import NOW, make_answer, make_row, seconds

pytestmark = pytest.mark.django_db

QUEUED, RUNNING, FAILED = PredictionStatus.QUEUED, PredictionStatus.RUNNING, PredictionStatus.FAILED


@pytest.fixture
def busy_hour(demo, versions):
    """Two waiting, three running (two in one live batch, one whose worker
    died), six answers, four failures, and an answer from before the hour."""
    v1, v2 = versions[1], versions[2]
    make_row(demo, status=QUEUED, created=NOW - seconds(90))
    make_row(demo, status=QUEUED, created=NOW - seconds(20), attempts=1, heartbeat=NOW)
    batch = NOW - seconds(5)
    for _ in range(2):
        make_row(
            demo, version=v1, status=RUNNING, created=NOW - seconds(8), started=batch,
            heartbeat=NOW - seconds(2), attempts=1,
        )  # fmt: skip
    make_row(
        demo, version=v1, status=RUNNING, created=NOW - seconds(120),
        started=NOW - seconds(100), heartbeat=NOW - seconds(60), attempts=1,
    )  # fmt: skip
    # Answers: upload->answer 1, 2, 3, 4 s (v1 done), 10 s (v1 rejected), 5 s (v2).
    at = NOW.replace(second=0) - timedelta(minutes=10)  # 12:20:00
    for i, (total, claim) in enumerate([(1, 0.5), (2, 0.5), (3, 1), (4, 2)]):
        make_answer(demo, v1, finished=at + seconds(10 * i), upload_to_answer=total,
                    claim_to_answer=claim)  # fmt: skip
    make_answer(demo, v1, finished=at + timedelta(minutes=7), upload_to_answer=10,
                claim_to_answer=1, status=PredictionStatus.REJECTED)  # fmt: skip
    make_answer(demo, v2, finished=NOW - seconds(10), upload_to_answer=5, claim_to_answer=0.5)
    for error in ("The model took too long.", "Boom.", "The model took too long."):
        make_row(demo, version=v1, status=FAILED, created=at, started=at, finished=at,
                 error=error, attempts=1)  # fmt: skip
    make_row(demo, status=FAILED, created=at - timedelta(hours=1), finished=at, error=NEVER_TAKEN)
    # Before the hour: counted nowhere but as the last answer it is not.
    make_answer(demo, v2, finished=NOW - timedelta(hours=2), upload_to_answer=1,
                claim_to_answer=1)  # fmt: skip


def test_it_counts_the_queue_and_the_workers_alive(busy_hour):
    report = queue_report(now=NOW)
    assert report.depth.queued == 2
    assert report.depth.running == 3
    assert report.depth.oldest_queued_seconds == 90
    assert report.depth.oldest_queued_at == NOW - seconds(90)
    assert report.depth.requeued == 1
    assert report.depth.lost == 1
    # The batch of two shares its claim: one worker process; the dead one is not counted.
    assert report.workers.busy == 1
    assert report.workers.alive_window_seconds == 30
    assert report.workers.last_heartbeat_at == NOW - seconds(2)
    assert report.workers.last_answer_at == NOW - seconds(10)


def test_it_counts_answers_and_failures_per_minute_and_per_five_minutes(busy_hour):
    report = queue_report(now=NOW)
    assert report.since == NOW.replace(second=0) - timedelta(minutes=59)  # 11:31
    assert len(report.minutes) == 60 and len(report.buckets) == 12
    assert report.minutes[-1].start == NOW.replace(second=0)
    by_minute = {m.start.strftime("%H:%M"): (m.answered, m.failed) for m in report.minutes}
    assert by_minute["12:20"] == (4, 4)
    assert by_minute["12:27"] == (1, 0)
    assert by_minute["12:30"] == (1, 0)
    assert sum(a + f for a, f in by_minute.values()) == 10
    by_bucket = {b.start.strftime("%H:%M"): (b.answered, b.failed) for b in report.buckets}
    assert by_bucket == {
        **{f"{h:02d}:{m:02d}": (0, 0) for h, m in [(11, 31), (11, 36), (11, 41), (11, 46)]},
        **{f"{h:02d}:{m:02d}": (0, 0) for h, m in [(11, 51), (11, 56), (12, 1), (12, 6)]},
        "12:11": (0, 0),
        "12:16": (4, 4),
        "12:21": (0, 0),
        "12:26": (2, 0),  # 12:27 and 12:30
    }
    assert report.answered == 6 and report.failed == 4
    assert report.answers_per_minute == pytest.approx(0.1)
    assert report.buckets[-1].per_minute == pytest.approx(0.4)


def test_it_reads_latency_percentiles_by_nearest_rank(busy_hour):
    report = queue_report(now=NOW)
    # Upload to answer: 1, 2, 3, 4, 5, 10 s; claim to answer: .5, .5, .5, 1, 1, 2 s.
    assert report.upload_to_answer.count == 6
    assert report.upload_to_answer.p50_seconds == pytest.approx(3)
    assert report.upload_to_answer.p95_seconds == pytest.approx(10)
    assert report.claim_to_answer.count == 6
    assert report.claim_to_answer.p50_seconds == pytest.approx(0.5)
    assert report.claim_to_answer.p95_seconds == pytest.approx(2)


def test_it_counts_failures_per_version_with_the_commonest_error(busy_hour):
    rows = [
        (v.version_number, v.finished, v.failed, round(v.failure_rate, 3), v.top_error,
         v.top_error_count)
        for v in queue_report(now=NOW).versions
    ]  # fmt: skip
    assert rows == [
        (1, 8, 3, 0.375, "The model took too long.", 2),
        (None, 1, 1, 1.0, NEVER_TAKEN, 1),
        (2, 1, 0, 0.0, "", 0),
    ]


def test_it_warns_of_a_worker_lost_mid_answer(busy_hour):
    warnings = queue_report(now=NOW).warnings
    assert len(warnings) == 1
    assert warnings[0].startswith("1 running photo lost its worker (no heartbeat in 30 s)")


def test_it_warns_when_photos_wait_and_no_worker_beats(demo):
    make_row(demo, status=QUEUED, created=NOW - timedelta(minutes=3, seconds=20))
    make_row(demo, status=QUEUED, created=NOW - seconds(1))
    assert queue_report(now=NOW).warnings == [
        "2 photos waiting, the oldest for 3 min 20 s, and no worker has beaten in the last "
        "30 s: are the workers running?"
    ]


def test_it_does_not_warn_about_a_photo_that_just_arrived(demo):
    make_row(demo, status=QUEUED, created=NOW - seconds(3))
    assert queue_report(now=NOW).warnings == []


@override_settings(PREDICTION_STALE_SECONDS=120)
def test_the_alive_window_is_the_sweeps(busy_hour):
    report = queue_report(now=NOW)
    assert report.workers.alive_window_seconds == 120
    assert report.workers.busy == 2 and report.depth.lost == 0


def test_an_empty_site_has_nothing_to_report(db):
    report = queue_report(now=NOW)
    assert (report.depth.queued, report.depth.running, report.depth.lost) == (0, 0, 0)
    assert report.depth.oldest_queued_at is None and report.depth.oldest_queued_seconds is None
    assert report.workers.busy == 0
    assert report.workers.last_answer_at is None and report.workers.last_heartbeat_at is None
    assert report.answered == report.failed == 0
    assert report.upload_to_answer.count == 0 and report.upload_to_answer.p50_seconds is None
    assert report.versions == [] and report.warnings == []


def test_the_chart_scales_to_the_busiest_minute(busy_hour):
    chart = minute_bars(queue_report(now=NOW).minutes)
    assert chart.peak == 8
    busiest = next(bar for bar in chart.bars if bar.title.startswith("12:20"))
    assert busiest.answered_height == chart.height / 2
    assert busiest.failed_y == 0
    assert busiest.title == "12:20 UTC: 4 answered, 4 failed"
    assert len(chart.bars) == 60


def test_a_quiet_hour_draws_no_bars(db):
    chart = minute_bars(queue_report(now=NOW).minutes)
    assert chart.peak == 0
    assert all(bar.answered_height == bar.failed_height == 0 for bar in chart.bars)


@pytest.mark.parametrize(
    ("value", "text"),
    [(None, "—"), (0.0423, "42 ms"), (4.25, "4.2 s"), (42, "42 s"), (200, "3 min 20 s"),
     (180, "3 min"), (7500, "2 h 5 min"), (7200, "2 h")],
)  # fmt: skip
def test_it_writes_durations_as_people_read_them(value, text):
    assert duration_text(value) == text


def test_its_queries_do_not_grow_with_the_rows(
    busy_hour, demo, versions, django_assert_num_queries
):
    """Counted, grouped and ranked in the database: eleven queries for any hour."""
    with django_assert_num_queries(11):
        queue_report(now=NOW)
    for i in range(30):
        make_answer(demo, versions[i % 2 + 1], finished=NOW - seconds(60 * i),
                    upload_to_answer=i + 1, claim_to_answer=1)  # fmt: skip
    with django_assert_num_queries(11):
        report = queue_report(now=NOW)
    assert report.answered == 36


def test_a_percentile_survives_rows_deleted_while_it_is_read(demo, versions):
    """Counted, then ranked: an owner who clears their history in between
    leaves the rank past the end, and the largest duration left is read."""
    from django.db.models import F

    from classifiers.models import Prediction
    from classifiers.monitoring.selectors import _latency

    for total in (1, 2):
        make_answer(demo, versions[1], finished=NOW, upload_to_answer=total, claim_to_answer=1)
    rows = Prediction.objects.all()
    rows.count = lambda: 10  # as counted before eight rows were deleted
    latency = _latency(rows, F("finished_at") - F("created_at"))
    assert (latency.p50_seconds, latency.p95_seconds) == (2.0, 2.0)
