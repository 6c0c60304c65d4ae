"""What workers do for model versions: validate an upload, switch the
served version (after embedding the gallery, for look-alike networks), and
compare a candidate with the served version on real uploads.

Each job claims its row with a conditional UPDATE, so a redelivered task does
nothing twice, and a row left running by a dead worker is claimed again once
it is older than the task's hard time limit.
"""

from __future__ import annotations

import logging
from datetime import timedelta
from pathlib import PurePosixPath

from django.contrib.staticfiles import finders
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


def model_version_validate(*, version_id: int) -> ModelVersion | None:
    """Claim an uploaded version, validate it and store the verdict."""
    # A version left "validating" past the task's hard limit lost its worker
    # (acks_late redelivers the task): it may be claimed again.
    stale = timezone.now() - timedelta(seconds=VALIDATION_TIME_LIMIT + 60)
    claimable = Q(status=ModelVersionStatus.UPLOADED) | Q(
        status=ModelVersionStatus.VALIDATING, created_at__lt=stale
    )
    claimed = ModelVersion.objects.filter(claimable, pk=version_id).update(
        status=ModelVersionStatus.VALIDATING, status_reason=""
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
        _finish_validation(version, ModelVersionStatus.READY, report.summary)
    return version


def _finish_validation(version: ModelVersion, status: str, reason: str) -> None:
    version.status = status
    version.status_reason = reason[:2000]
    version.validated_at = timezone.now()
    version.save(
        update_fields=["status", "status_reason", "validated_at", "metrics", "calibration"]
    )


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
        found = finders.find(example["image"])
        if found:
            images.append(Image.open(found).convert("RGB"))
    return images


# -- serving a version -----------------------------------------------------------


def promotion_apply(
    *, version: ModelVersion, actor=None, reason: str = "", action: str = Promotion.Action.PROMOTE
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
            actor_name=actor.get_username() if actor is not None else "",
            reason=reason,
        )


def gallery_embed_then_promote(
    *, version_id: int, actor_id: int | None, reason: str, action: str = Promotion.Action.PROMOTE
) -> Promotion | None:
    """Worker side of a look-alike promotion: embed every gallery photo with the
    new network first, so the switch never serves an empty gallery."""
    from django.contrib.auth import get_user_model

    version = ModelVersion.objects.select_related("demo").get(pk=version_id)
    gallery_embed_missing(version=version)
    actor = get_user_model().objects.filter(pk=actor_id).first() if actor_id else None
    try:
        return promotion_apply(version=version, actor=actor, reason=reason, action=action)
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
