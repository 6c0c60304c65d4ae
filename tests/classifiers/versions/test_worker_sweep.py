"""Validations and comparisons a lost message or a dead worker left waiting
are rung again, then failed after a bounded number of tries; artifacts of
invalid versions are deleted unless another version uses the same file."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.core.files.base import ContentFile
from django.core.files.storage import default_storage
from django.utils import timezone

from classifiers.inference.refusals import Refused
from classifiers.models import Comparison, ComparisonStatus, ModelVersion, ModelVersionStatus
from classifiers.versions import tasks as version_tasks
from classifiers.versions import worker as version_worker


@pytest.fixture
def sent():
    return {"validations": [], "comparisons": []}


def _sweep(sent):
    return version_worker.versions_sweep(
        send_validation=sent["validations"].append,
        send_comparison=sent["comparisons"].append,
    )


def _version(demo, number: int, status: str, *, artifact: str = "", **fields) -> ModelVersion:
    v1 = demo.versions.get(number=1)
    return ModelVersion.objects.create(
        demo=demo,
        number=number,
        name=f"v{number}",
        artifact=artifact or v1.artifact.name,
        sha256=v1.sha256,
        labels=v1.labels,
        input_spec=v1.input_spec,
        status=status,
        **fields,
    )


def _ago(**kwargs):
    return timezone.now() - timedelta(**kwargs)


HARD_LIMIT = timedelta(seconds=version_worker.VALIDATION_TIME_LIMIT + 61)


# -- validations -------------------------------------------------------------------


def test_it_rings_again_for_a_validation_whose_worker_died(demo, sent):
    version = _version(demo, 7, ModelVersionStatus.VALIDATING)
    ModelVersion.objects.filter(pk=version.pk).update(validated_at=timezone.now() - HARD_LIMIT)

    assert _sweep(sent).validations_resent == 1

    assert sent["validations"] == [version.pk]
    version.refresh_from_db()
    assert version.status == ModelVersionStatus.UPLOADED  # the claim takes it again


def test_it_leaves_a_validation_that_is_running(demo, sent):
    _version(demo, 7, ModelVersionStatus.VALIDATING, validated_at=timezone.now())
    assert not _sweep(sent)


def test_a_validation_rung_again_is_claimed_once(demo, sent, monkeypatch):
    version = _version(demo, 7, ModelVersionStatus.VALIDATING)
    ModelVersion.objects.filter(pk=version.pk).update(
        created_at=_ago(hours=1), validated_at=timezone.now() - HARD_LIMIT
    )
    _sweep(sent)
    claims = []

    def validate(claimed):
        claims.append(claimed.pk)
        # While it validates: the next sweep and a duplicate message do nothing.
        assert not _sweep(sent)
        assert version_worker.model_version_validate(version_id=claimed.pk) is None
        raise Refused("stopped by the test")

    monkeypatch.setattr(version_worker, "_validate", validate)

    version_worker.model_version_validate(version_id=version.pk)

    assert claims == [version.pk]
    version.refresh_from_db()
    assert (version.status, version.status_reason) == ("invalid", "stopped by the test")


def test_it_rings_again_for_an_upload_whose_message_was_lost(demo, sent):
    version = _version(demo, 7, ModelVersionStatus.UPLOADED)
    ModelVersion.objects.filter(pk=version.pk).update(created_at=_ago(minutes=3))

    assert _sweep(sent).validations_resent == 1
    assert _sweep(sent).validations_resent == 0  # once per period

    assert sent["validations"] == [version.pk]


def test_a_version_rung_again_is_not_shown_as_validated(demo, sent, client, staff):
    """While waiting, ``validated_at`` is when it was last sent: not a verdict."""
    version = _version(demo, 7, ModelVersionStatus.UPLOADED)
    ModelVersion.objects.filter(pk=version.pk).update(created_at=_ago(minutes=3))
    _sweep(sent)

    client.force_login(staff)
    page = client.get(f"/demos/{demo.slug}/versions/7/").content.decode()

    assert "waiting for a worker to validate it" in page
    assert "<th>Validated</th>" not in page


def test_a_validation_whose_worker_died_every_time_ends_invalid(demo, sent, client, staff):
    version = _version(demo, 7, ModelVersionStatus.VALIDATING)
    ModelVersion.objects.filter(pk=version.pk).update(
        created_at=timezone.now() - 4 * HARD_LIMIT, validated_at=timezone.now() - HARD_LIMIT
    )

    assert _sweep(sent).validations_failed == 1

    version.refresh_from_db()
    assert version.status == ModelVersionStatus.INVALID
    client.force_login(staff)
    page = client.get(f"/demos/{demo.slug}/versions/7/").content.decode()
    assert "The worker stopped while validating this version 3 times" in page


# -- comparisons --------------------------------------------------------------------


@pytest.fixture
def comparison(demo, candidate, staff):
    return Comparison.objects.create(
        candidate=candidate, baseline=demo.promoted_version, requested_by=staff, sample_size=10
    )


def _running_since(comparison, when, attempts: int) -> None:
    Comparison.objects.filter(pk=comparison.pk).update(
        status=ComparisonStatus.RUNNING, started_at=when, attempts=attempts
    )


COMPARISON_LIMIT = timedelta(seconds=version_worker.COMPARISON_TIME_LIMIT + 61)


def test_it_queues_again_a_comparison_whose_worker_died(comparison, sent):
    _running_since(comparison, timezone.now() - COMPARISON_LIMIT, attempts=1)

    assert _sweep(sent).comparisons_resent == 1

    assert sent["comparisons"] == [comparison.pk]
    comparison.refresh_from_db()
    assert comparison.status == ComparisonStatus.QUEUED
    assert version_worker.comparison_claim(comparison_id=comparison.pk)


def test_it_leaves_a_comparison_that_is_running(comparison, sent):
    _running_since(comparison, timezone.now(), attempts=1)
    assert not _sweep(sent)


def test_a_comparison_whose_worker_died_every_time_fails(comparison, sent):
    _running_since(comparison, timezone.now() - COMPARISON_LIMIT, attempts=3)

    assert _sweep(sent).comparisons_failed == 1

    comparison.refresh_from_db()
    assert comparison.status == ComparisonStatus.FAILED
    assert "stopped while comparing 3 times" in comparison.error


def test_it_rings_again_for_a_comparison_whose_message_was_lost(comparison, sent):
    Comparison.objects.filter(pk=comparison.pk).update(created_at=_ago(minutes=3))

    assert _sweep(sent).comparisons_resent == 1
    assert _sweep(sent).comparisons_resent == 0

    assert sent["comparisons"] == [comparison.pk]


def test_the_sweep_task_sends_to_the_version_tasks(comparison, monkeypatch):
    sent = []
    monkeypatch.setattr("classifiers.versions.tasks.run_comparison.delay", sent.append)
    Comparison.objects.filter(pk=comparison.pk).update(created_at=_ago(minutes=3))

    version_tasks.sweep_versions()

    assert sent == [comparison.pk]


# -- files of invalid versions ------------------------------------------------------


def _stored(name: str, data: bytes) -> str:
    return default_storage.save(name, ContentFile(data))


def test_it_removes_the_file_of_an_invalid_version(demo):
    name = _stored("model_versions/abc123.keras", b"bad model")
    _version(demo, 7, ModelVersionStatus.INVALID, artifact=name)

    version_tasks.remove_invalid_version_files()

    assert not default_storage.exists(name)


def test_it_keeps_a_file_another_version_still_uses(demo):
    name = _stored("model_versions/def456.keras", b"same bytes")
    _version(demo, 7, ModelVersionStatus.INVALID, artifact=name)
    _version(demo, 8, ModelVersionStatus.UPLOADED, artifact=name)  # the same upload, again

    assert version_worker.invalid_version_files_remove() == 0

    assert default_storage.exists(name)


def test_it_never_removes_the_files_of_served_or_ready_versions(demo):
    served = demo.promoted_version.artifact.name
    _version(demo, 7, ModelVersionStatus.INVALID, artifact=served)

    version_worker.invalid_version_files_remove()

    assert default_storage.exists(served)
