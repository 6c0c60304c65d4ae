"""The worker half of a comparison: claimed once, taken over after a dead worker."""

from datetime import timedelta

import pytest
from django.utils import timezone

from classifiers.models import Comparison, ComparisonStatus
from classifiers.versions import worker as version_worker


@pytest.fixture
def comparison(demo, candidate, uploads, staff):
    return Comparison.objects.create(
        candidate=candidate, baseline=demo.promoted_version, requested_by=staff, sample_size=10
    )


def test_it_runs_both_versions_on_the_recent_uploads(comparison):
    version_worker.comparison_run(comparison_id=comparison.pk)
    comparison.refresh_from_db()
    assert comparison.status == ComparisonStatus.DONE
    assert len(comparison.rows) == 2
    assert all(row["candidate"]["status"] == "rejected" for row in comparison.rows)


def test_a_comparison_whose_worker_died_is_claimed_again(comparison):
    """A worker killed mid-comparison leaves it running; once that is older
    than the task's hard limit, the redelivered task takes it over."""
    long_ago = timezone.now() - timedelta(seconds=version_worker.COMPARISON_TIME_LIMIT + 120)
    Comparison.objects.filter(pk=comparison.pk).update(
        status=ComparisonStatus.RUNNING, started_at=long_ago, attempts=1
    )
    version_worker.comparison_run(comparison_id=comparison.pk)
    comparison.refresh_from_db()
    assert comparison.status == ComparisonStatus.DONE
    assert comparison.attempts == 2


def test_a_comparison_running_now_is_left_to_its_worker(comparison):
    Comparison.objects.filter(pk=comparison.pk).update(
        status=ComparisonStatus.RUNNING, started_at=timezone.now(), attempts=1
    )
    version_worker.comparison_run(comparison_id=comparison.pk)  # a redelivery
    comparison.refresh_from_db()
    assert (comparison.status, comparison.attempts) == (ComparisonStatus.RUNNING, 1)
