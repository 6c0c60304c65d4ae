"""What a worker does with a prediction id: claim, run, finish or fail.

Runs in Celery worker processes (through ``tasks``), never in the web process.
"""

from __future__ import annotations

import logging
from datetime import timedelta

from django.conf import settings
from django.core.files.base import ContentFile
from django.db.models import F, Q
from django.utils import timezone
from PIL import Image

from classifiers.inference.explain import heatmap_png
from classifiers.inference.images import open_stored
from classifiers.models import Demo, ModelVersion, Prediction, PredictionStatus
from classifiers.serving import model_for, pipeline_for, run_pipeline

logger = logging.getLogger(__name__)


def prediction_claim(*, prediction_id: str, stale_after: timedelta | None = None) -> bool:
    """Mark a queued prediction running; False if someone else has it or it is done.

    A conditional UPDATE, so a redelivered task cannot run a prediction twice.
    A row left ``running`` by a worker that died long ago (past the hard time
    limit) can be claimed again. The demo's served version is pinned in the
    same UPDATE: a promotion mid-way never mixes two versions in one answer.
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
    """Claim, run the demo's pipeline on the stored photo, store the answer."""
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
    grey = Image.new("RGB", (320, 320), (127, 127, 127))
    warmed = []
    for demo in Demo.objects.exclude(promoted_version=None).select_related("promoted_version"):
        version = demo.promoted_version
        pipeline = pipeline_for(demo, version)
        pipeline.run(model_for(version, pipeline), grey)
        warmed.append(version)
    return warmed
