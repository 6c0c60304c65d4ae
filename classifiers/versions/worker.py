"""What workers do for model versions: validate an upload, switch the
served version (after embedding the gallery, for look-alike networks), and
compare a candidate with the served version on real uploads.

Each job claims its row with a conditional UPDATE, so a redelivered task does
nothing twice, and a row left running by a dead worker is claimed again once
its claim is older than the task's hard time limit. The message of a job is
only a doorbell: ``versions_sweep`` rings again for a job whose message was
lost or whose worker died (a redelivery right after a crash finds the claim
still fresh and is dropped), and fails it after a bounded number of tries.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta
from pathlib import PurePosixPath

from django.contrib.staticfiles import finders
from django.core.files.storage import default_storage
from django.db import transaction
from django.db.models import F, Q
from django.utils import timezone
from PIL import Image

from classifiers.gallery.worker import gallery_embed_missing
from classifiers.inference.images import open_stored
from classifiers.inference.pipelines import ValidationFailed, ValidationReport
from classifiers.inference.refusals import Refused
from classifiers.inference.runtime import file_sha256
from classifiers.models import (
    Comparison,
    ComparisonStatus,
    Demo,
    ModelVersion,
    ModelVersionStatus,
    Prediction,
    PredictionStatus,
    Promotion,
)
from classifiers.serving import local_artifact_path, pipeline_for, run_pipeline
from classifiers.versions.archives import evaluation_photos

logger = logging.getLogger(__name__)

# Hard time limits of the tasks (seconds); a claim older than this is stale.
VALIDATION_TIME_LIMIT = 2000
EMBED_TIME_LIMIT = 3600
COMPARISON_TIME_LIMIT = 3600


# -- validation ----------------------------------------------------------------


def _validation_lost(now) -> Q:
    """Validating for longer than the task's hard limit: its worker died.

    While a version is uploaded or validating, ``validated_at`` is when its
    task was last sent by the sweep or claimed (the verdict overwrites it):
    a stale claim taken over once is not taken over again at the next sweep.
    """
    stale = now - timedelta(seconds=VALIDATION_TIME_LIMIT + 60)
    return Q(status=ModelVersionStatus.VALIDATING) & (
        Q(validated_at__lt=stale) | Q(validated_at__isnull=True, created_at__lt=stale)
    )


def model_version_validate(*, version_id: int) -> ModelVersion | None:
    """Claim an uploaded version, validate it and store the verdict."""
    # A version left "validating" past the task's hard limit lost its worker:
    # it may be claimed again.
    now = timezone.now()
    claimable = Q(status=ModelVersionStatus.UPLOADED) | _validation_lost(now)
    claimed = ModelVersion.objects.filter(claimable, pk=version_id).update(
        status=ModelVersionStatus.VALIDATING, status_reason="", validated_at=now
    )
    if not claimed:
        return None
    version = ModelVersion.objects.select_related("demo").get(pk=version_id)
    try:
        report = _validate(version)
    except Refused as exc:
        _finish_validation(version, ModelVersionStatus.INVALID, exc.message)
    except Exception:  # a crash is a verdict too, never a stuck "validating"
        logger.exception("validation of %s crashed", version)
        _finish_validation(
            version,
            ModelVersionStatus.INVALID,
            "Validation failed with an unexpected error (logged for the developers).",
        )
    else:
        version.metrics = report.metrics
        version.calibration = report.calibration
        if report.input_spec is not None:
            version.input_spec = report.input_spec  # with the size read from the model
        _finish_validation(version, ModelVersionStatus.READY, report.summary)
    return version


def _finish_validation(version: ModelVersion, status: str, reason: str) -> None:
    version.status = status
    version.status_reason = plain_reason(reason)[:2000]
    version.validated_at = timezone.now()
    version.save(
        update_fields=[
            "status",
            "status_reason",
            "validated_at",
            "metrics",
            "calibration",
            "input_spec",
        ]
    )


# An absolute path of two parts or more ("/srv/app/media/x.keras"); a ratio
# such as "(x - 127) / 128" has spaces around its slash and is left alone.
_SERVER_PATH = re.compile(r"(?<![\w.:/])/(?:[\w.~-]+/)+[\w.~-]*")


def plain_reason(reason: str) -> str:
    """What staff read of a verdict: the reasons written for them pass as they
    are; a Python traceback or a server path that slipped into one (a
    library's message quoted) is never shown. The worker's log has the details."""
    if "Traceback (most recent call last)" in reason or 'File "' in reason:
        return "Validation failed with an unexpected error (logged for the developers)."
    return _SERVER_PATH.sub("[path]", reason)


def _validate(version: ModelVersion) -> ValidationReport:
    demo = version.demo
    pipeline = pipeline_for(demo, version, with_gallery=False)
    suffix = PurePosixPath(version.artifact.name).suffix.lower()
    if suffix != pipeline.artifact_suffix:
        raise ValidationFailed(
            f"Only {pipeline.artifact_suffix} files are accepted for this demo; a "
            f"{suffix or 'suffix-less'} file is refused unopened (.h5 and pickle formats "
            "can carry code)."
        )
    path = local_artifact_path(version)
    if file_sha256(path) != version.sha256:
        raise ValidationFailed("The stored file does not match the uploaded sha256.")
    evaluation_set = demo.evaluation_sets.first()
    evaluation, evaluation_name = None, ""
    if evaluation_set is not None:
        with evaluation_set.archive.open("rb") as archive:
            evaluation = evaluation_photos(archive)
        evaluation_name = evaluation_set.name
    return pipeline.validate(
        path,
        examples=_example_images(demo),
        evaluation=evaluation,
        evaluation_name=evaluation_name,
    )


def _example_images(demo: Demo) -> list[Image.Image]:
    images = []
    for example in demo.examples:
        # Static files shipped with the code on every machine, not stored files.
        found = finders.find(example["image"])
        if found:
            images.append(Image.open(found).convert("RGB"))
    return images


# -- serving a version -----------------------------------------------------------


def promotion_apply(
    *,
    version: ModelVersion,
    actor=None,
    reason: str = "",
    action: str = Promotion.Action.PROMOTE,
    actor_name: str = "",
) -> Promotion:
    """Switch the demo to ``version`` and write the audit row, in one transaction.

    Callers go through ``services.model_version_promote``, which first makes
    sure the version can answer (a look-alike network needs its gallery).
    """
    if version.status != ModelVersionStatus.READY:
        raise Refused(f"Version {version.number} is {version.status}, not ready.")
    with transaction.atomic():
        demo = Demo.objects.select_for_update().get(pk=version.demo_id)
        if demo.promoted_version_id == version.pk:
            raise Refused(f"Version {version.number} is already served.")
        previous = demo.promoted_version
        demo.promoted_version = version
        demo.save(update_fields=["promoted_version"])
        return Promotion.objects.create(
            demo=demo,
            from_version=previous,
            to_version=version,
            action=action,
            actor=actor,
            actor_name=actor.get_username() if actor is not None else actor_name,
            reason=reason,
        )


def gallery_embed_then_promote(
    *,
    version_id: int,
    actor_id: int | None,
    reason: str,
    action: str = Promotion.Action.PROMOTE,
    actor_name: str = "",
) -> Promotion | None:
    """Worker side of a look-alike promotion: embed every gallery photo with the
    new network first, so the switch never serves an empty gallery."""
    from django.contrib.auth import get_user_model

    version = ModelVersion.objects.select_related("demo").get(pk=version_id)
    gallery_embed_missing(version=version)
    actor = get_user_model().objects.filter(pk=actor_id).first() if actor_id else None
    try:
        return promotion_apply(
            version=version, actor=actor, reason=reason, action=action, actor_name=actor_name
        )
    except Refused as exc:  # e.g. a second click already served it
        logger.info("promotion of %s after embedding not applied: %s", version, exc)
        return None


# -- comparisons -----------------------------------------------------------------


def comparison_claim(*, comparison_id: int) -> bool:
    """Mark a queued comparison running, or take over one whose worker died
    (running for longer than the task's hard limit)."""
    now = timezone.now()
    stale = now - timedelta(seconds=COMPARISON_TIME_LIMIT + 60)
    claimable = Q(status=ComparisonStatus.QUEUED) | Q(
        status=ComparisonStatus.RUNNING, started_at__lt=stale
    )
    claimed = Comparison.objects.filter(claimable, pk=comparison_id).update(
        status=ComparisonStatus.RUNNING, started_at=now, attempts=F("attempts") + 1
    )
    return claimed == 1


def comparison_fail(*, comparison_id: int, reason: str) -> None:
    Comparison.objects.filter(pk=comparison_id).exclude(status=ComparisonStatus.DONE).update(
        status=ComparisonStatus.FAILED, error=reason[:2000], finished_at=timezone.now()
    )


def comparison_run(*, comparison_id: int) -> None:
    """Both versions over the demo's latest real uploads."""
    if not comparison_claim(comparison_id=comparison_id):
        return
    comparison = Comparison.objects.select_related("candidate__demo", "baseline").get(
        pk=comparison_id
    )
    demo = comparison.candidate.demo
    recent = Prediction.objects.filter(
        demo=demo, status__in=(PredictionStatus.DONE, PredictionStatus.REJECTED)
    ).order_by("-created_at")[: comparison.sample_size]
    rows = []
    for prediction in recent:
        try:
            image = open_stored(prediction.image)
        except FileNotFoundError:
            continue  # deleted by its owner meanwhile
        answers = {}
        for role, version in (
            ("baseline", comparison.baseline),
            ("candidate", comparison.candidate),
        ):
            outcome = run_pipeline(demo, version, image)
            answers[role] = {
                "status": outcome.status,
                "label": outcome.label,
                "score": outcome.score,
                "reason": outcome.reason,
            }
        rows.append(
            {
                "prediction": str(prediction.id),
                **answers,
                "agree": (answers["baseline"]["status"], answers["baseline"]["label"])
                == (answers["candidate"]["status"], answers["candidate"]["label"]),
            }
        )
    Comparison.objects.filter(pk=comparison_id).update(
        status=ComparisonStatus.DONE, rows=rows, finished_at=timezone.now()
    )


# -- the sweep and housekeeping ----------------------------------------------------

# A job not taken after this long had its message lost: ring again.
RESEND_AFTER = timedelta(minutes=2)
# Claims of a comparison (and hard limits of a validation) before it is failed.
MAX_ATTEMPTS = 3


@dataclass
class VersionsSweepReport:
    validations_resent: int = 0
    validations_failed: int = 0
    comparisons_resent: int = 0
    comparisons_failed: int = 0

    def __bool__(self) -> bool:
        return any(vars(self).values())


def versions_sweep(
    *, send_validation: Callable[[int], object], send_comparison: Callable[[int], object]
) -> VersionsSweepReport:
    """Ring again for validations and comparisons that a lost message or a
    dead worker left waiting; fail them after MAX_ATTEMPTS tries. Conditional
    UPDATEs throughout, so concurrent sweeps act once per row."""
    now = timezone.now()
    report = VersionsSweepReport()
    resend_before = now - RESEND_AFTER

    # Validations. No attempts column: a version still not validated after
    # MAX_ATTEMPTS hard limits has lost its worker that many times.
    too_old = now - MAX_ATTEMPTS * timedelta(seconds=VALIDATION_TIME_LIMIT + 60)
    report.validations_failed = ModelVersion.objects.filter(
        _validation_lost(now), created_at__lt=too_old
    ).update(
        status=ModelVersionStatus.INVALID,
        status_reason=(
            f"The worker stopped while validating this version {MAX_ATTEMPTS} times; "
            "upload it again to retry."
        ),
        validated_at=now,
    )
    waiting = Q(status=ModelVersionStatus.UPLOADED) & (
        Q(validated_at__lt=resend_before)
        | Q(validated_at__isnull=True, created_at__lt=resend_before)
    )
    for condition in (waiting, _validation_lost(now)):
        for pk in list(ModelVersion.objects.filter(condition).values_list("pk", flat=True)):
            # Back to uploaded (the claim takes it) and marked as sent, so the
            # next sweep does not ring again at once.
            if ModelVersion.objects.filter(condition, pk=pk).update(
                status=ModelVersionStatus.UPLOADED, validated_at=now
            ):
                report.validations_resent += 1
                _ring(send_validation, pk)

    # Comparisons: ``started_at`` of a queued one is when it was last sent.
    lost = Q(status=ComparisonStatus.RUNNING) & Q(
        started_at__lt=now - timedelta(seconds=COMPARISON_TIME_LIMIT + 60)
    )
    report.comparisons_failed = Comparison.objects.filter(lost, attempts__gte=MAX_ATTEMPTS).update(
        status=ComparisonStatus.FAILED,
        error=f"The worker stopped while comparing {MAX_ATTEMPTS} times.",
        finished_at=now,
    )
    waiting = Q(status=ComparisonStatus.QUEUED) & (
        Q(started_at__lt=resend_before) | Q(started_at__isnull=True, created_at__lt=resend_before)
    )
    for pk in list(Comparison.objects.filter(waiting).values_list("pk", flat=True)):
        if Comparison.objects.filter(waiting, pk=pk).update(started_at=now):
            report.comparisons_resent += 1
            _ring(send_comparison, pk)
    for pk in list(Comparison.objects.filter(lost).values_list("pk", flat=True)):
        # Queued again: the claim takes it, and the page says it waits again.
        if Comparison.objects.filter(lost, pk=pk).update(
            status=ComparisonStatus.QUEUED, started_at=now
        ):
            report.comparisons_resent += 1
            _ring(send_comparison, pk)
    if report:
        logger.info("versions sweep: %s", report)
    return report


def _ring(send: Callable[[int], object], pk: int) -> None:
    try:
        send(pk)
    except Exception:  # the broker is down: the next sweep rings again
        logger.exception("could not queue job %s; the sweep will try again", pk)


def invalid_version_files_remove() -> int:
    """Delete the stored artifacts of invalid versions.

    Artifacts are stored by content and shared: a file goes only when no
    version that is not invalid uses it. Uploads lock their demo's row while
    they store a file, so holding every demo's row here means no upload of
    the same bytes can adopt the file while it is being deleted.
    """
    removed = 0
    with transaction.atomic():
        list(Demo.objects.select_for_update().values_list("pk", flat=True))
        kept = set(
            ModelVersion.objects.exclude(status=ModelVersionStatus.INVALID).values_list(
                "artifact", flat=True
            )
        )
        invalid = (
            ModelVersion.objects.filter(status=ModelVersionStatus.INVALID)
            .exclude(artifact="")
            .values_list("artifact", flat=True)
            .distinct()
        )
        for name in set(invalid) - kept:
            if default_storage.exists(name):
                default_storage.delete(name)
                removed += 1
    if removed:
        logger.info("removed %s artifact files of invalid versions", removed)
    return removed
