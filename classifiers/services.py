"""Writes: every change to demos, versions and predictions goes through here."""

from __future__ import annotations

import hashlib
import logging
from datetime import timedelta
from pathlib import Path

from django.conf import settings
from django.core.files.base import ContentFile
from django.db import transaction
from django.db.models import F, Q
from django.utils import timezone

from classifiers.inference.images import decode_upload, open_stored
from classifiers.models import (
    Demo,
    ModelVersion,
    ModelVersionStatus,
    Prediction,
    PredictionStatus,
    Promotion,
)

logger = logging.getLogger(__name__)


class DemoNotServed(ValueError):
    """The demo has no promoted model version yet."""


class QueueFull(RuntimeError):
    """The workers are too far behind to take another upload now."""

    def __init__(self, message: str, *, retry_after: int) -> None:
        super().__init__(message)
        self.retry_after = retry_after


def prediction_queue_guard() -> None:
    """Refuse a new upload while QUEUE_MAX_DEPTH predictions wait for a worker.

    Counted in the database, so it holds whatever the broker: rows queued in
    the last QUEUE_WINDOW_SECONDS (older ones were lost by a broker, not
    waiting in it, and must not close the site for good).
    """
    since = timezone.now() - timedelta(seconds=settings.QUEUE_WINDOW_SECONDS)
    waiting = Prediction.objects.filter(
        status=PredictionStatus.QUEUED, created_at__gte=since
    ).count()
    if waiting >= settings.QUEUE_MAX_DEPTH:
        raise QueueFull(
            "The models are busy with other uploads; please try again in a minute.",
            retry_after=settings.QUEUE_RETRY_AFTER,
        )


def prediction_create(
    *, demo: Demo, data: bytes, filename: str = "", owner=None, visitor_id: str = ""
) -> Prediction:
    """Check an upload, store it re-encoded and queue it for a worker.

    Raises ImageRejected (message for the user) before anything is written.
    """
    if not demo.is_live:
        raise DemoNotServed(f"{demo.title} is coming soon and does not take uploads yet.")
    decoded = decode_upload(
        data, max_bytes=settings.UPLOAD_MAX_BYTES, max_pixels=settings.UPLOAD_MAX_PIXELS
    )
    from classifiers.tasks import run_prediction

    with transaction.atomic():
        prediction = Prediction(
            demo=demo,
            owner=owner if owner is not None and owner.is_authenticated else None,
            visitor_id=visitor_id,
            image_sha256=decoded.sha256,
            original_name=Path(filename).name[:255],
            created_at=timezone.now(),
        )
        prediction.image.save(f"{prediction.id}.jpg", ContentFile(decoded.jpeg), save=False)
        prediction.save()
        # The worker must never see an id whose row is not committed yet.
        transaction.on_commit(lambda: run_prediction.delay(str(prediction.id)))
    return prediction


def prediction_claim(*, prediction_id: str, stale_after: timedelta | None = None) -> bool:
    """Mark a queued prediction running; False if someone else has it or it is done.

    A conditional UPDATE, so a redelivered task cannot run a prediction twice.
    A row left ``running`` by a worker that died long ago (past the hard time
    limit) can be claimed again.
    """
    now = timezone.now()
    stale_after = stale_after or timedelta(seconds=settings.CELERY_TASK_TIME_LIMIT + 30)
    claimable = Q(status=PredictionStatus.QUEUED) | Q(
        status=PredictionStatus.RUNNING, started_at__lt=now - stale_after
    )
    promoted = (
        Prediction.objects.filter(id=prediction_id)
        .values_list("demo__promoted_version_id", flat=True)
        .first()
    )
    if promoted is None:
        return False
    updated = Prediction.objects.filter(claimable, id=prediction_id).update(
        status=PredictionStatus.RUNNING,
        started_at=now,
        attempts=F("attempts") + 1,
        model_version_id=promoted,
    )
    return updated == 1


def prediction_finish(
    *, prediction: Prediction, outcome: dict, image_size: tuple[int, int] | None = None
) -> None:
    """Store the answer; a Grad-CAM grid in it is also saved as an overlay image."""
    from classifiers.inference.explain import heatmap_png

    details = outcome.get("details", {})
    fields = ["status", "result", "finished_at"]
    if image_size and details.get("heatmap") and details.get("crop_box"):
        png = heatmap_png(details["heatmap"], image_size, details["crop_box"])
        prediction.heatmap.save(f"{prediction.id}-heatmap.png", ContentFile(png), save=False)
        fields.append("heatmap")
    prediction.status = outcome["status"]
    prediction.result = outcome
    prediction.finished_at = timezone.now()
    prediction.save(update_fields=fields)


def prediction_fail(*, prediction_id: str, reason: str) -> None:
    Prediction.objects.filter(id=prediction_id).exclude(
        status__in=(PredictionStatus.DONE, PredictionStatus.REJECTED)
    ).update(status=PredictionStatus.FAILED, error=reason, finished_at=timezone.now())


def prediction_run(*, prediction_id: str) -> None:
    """What the worker does with one prediction id."""
    from classifiers.inference.pipelines import run_pipeline

    if not prediction_claim(prediction_id=prediction_id):
        logger.info("prediction %s not claimable (taken, finished or deleted)", prediction_id)
        return
    prediction = Prediction.objects.select_related("demo", "model_version").get(id=prediction_id)
    image = open_stored(prediction.image)  # a missing or broken file fails the task clearly
    outcome = run_pipeline(prediction.demo, prediction.model_version, image)
    prediction_finish(prediction=prediction, outcome=outcome.as_dict(), image_size=image.size)


def models_warm_up() -> list[ModelVersion]:
    """Load each demo's promoted model into this process and run it once,
    through the same path as a real upload (so the explanation graph is
    traced now, not on a visitor's first click)."""
    from PIL import Image

    from classifiers.inference.pipelines import pipeline_for
    from classifiers.inference.runtime import get_model

    grey = Image.new("RGB", (320, 320), (127, 127, 127))
    warmed = []
    for demo in Demo.objects.exclude(promoted_version=None).select_related("promoted_version"):
        version = demo.promoted_version
        pipeline = pipeline_for(demo, version)
        pipeline.run(get_model(version, loader=pipeline.load_model), grey)
        warmed.append(version)
    return warmed


def prediction_delete(*, prediction: Prediction) -> None:
    prediction.image.delete(save=False)
    if prediction.heatmap:
        prediction.heatmap.delete(save=False)
    prediction.delete()


def predictions_delete_all(*, owner) -> int:
    count = 0
    for prediction in Prediction.objects.filter(owner=owner).only("id", "image", "heatmap"):
        prediction_delete(prediction=prediction)
        count += 1
    return count


def predictions_adopt(*, user, visitor_id: str) -> int:
    """Move the anonymous predictions of this browser to ``user``'s history."""
    if not visitor_id:
        return 0
    return Prediction.objects.filter(owner__isnull=True, visitor_id=visitor_id).update(owner=user)


def file_sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def model_version_promote(
    *, version: ModelVersion, actor=None, reason: str = "", action: str = Promotion.Action.PROMOTE
) -> Promotion:
    """Make ``version`` the one its demo serves; refuses versions that are not ready."""
    if version.status != ModelVersionStatus.READY:
        raise ValueError(f"version {version.number} is {version.status}, not ready")
    with transaction.atomic():
        demo = Demo.objects.select_for_update().get(pk=version.demo_id)
        if demo.promoted_version_id == version.pk:
            raise ValueError(f"version {version.number} is already served")
        previous = demo.promoted_version
        demo.promoted_version = version
        demo.save(update_fields=["promoted_version"])
        return Promotion.objects.create(
            demo=demo,
            from_version=previous,
            to_version=version,
            action=action,
            actor=actor,
            reason=reason,
        )
