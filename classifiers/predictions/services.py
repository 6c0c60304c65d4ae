"""Writes for predictions: uploads, re-runs, deletes, adopting a visitor's work.

Called by views, the API and commands. Each refusal is a ``Refused`` with a
message for the person; nothing is written or queued before the checks pass.
"""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

from django.conf import settings
from django.core.files.base import ContentFile
from django.db import transaction
from django.utils import timezone

from classifiers.inference.refusals import Refused
from classifiers.models import Demo, Prediction, PredictionStatus
from classifiers.predictions.tasks import run_prediction
from classifiers.uploads import decode_photo


class DemoNotServed(Refused):
    """The demo has no promoted model version yet."""

    code = "demo_not_served"


class QueueFull(Refused):
    """The workers are too far behind to take another upload now."""

    code = "queue_full"
    status = 503


def _queue_guard() -> None:
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
    *,
    demo: Demo,
    data: bytes,
    filename: str = "",
    owner=None,
    visitor_id: str = "",
    rerun_of: Prediction | None = None,
) -> Prediction:
    """Check an upload, store it re-encoded and queue it for a worker.

    Every entry point (page, API, re-run) comes through here, so each obeys
    the same checks: the demo is served, the queue has room, the photo is an
    image within the limits. Raises Refused before anything is written.
    """
    if not demo.is_live:
        raise DemoNotServed(f"{demo.title} is coming soon and does not take uploads yet.")
    _queue_guard()
    decoded = decode_photo(data)
    with transaction.atomic():
        prediction = Prediction(
            demo=demo,
            owner=owner if owner is not None and owner.is_authenticated else None,
            visitor_id=visitor_id,
            image_sha256=decoded.sha256,
            original_name=Path(filename).name[:255],
            rerun_of=rerun_of,
            created_at=timezone.now(),
        )
        prediction.image.save(f"{prediction.id}.jpg", ContentFile(decoded.jpeg), save=False)
        prediction.save()
        # The worker must never see an id whose row is not committed yet.
        transaction.on_commit(lambda: run_prediction.delay(str(prediction.id)))
    return prediction


def prediction_rerun(*, prediction: Prediction, owner=None, visitor_id: str = "") -> Prediction:
    """Queue the same photo again on the demo's currently served version."""
    try:
        with prediction.image.open("rb") as f:
            data = f.read()
    except FileNotFoundError as exc:
        raise Refused("This upload's photo is gone, so it cannot be re-run.") from exc
    return prediction_create(
        demo=prediction.demo,
        data=data,
        filename=prediction.original_name,
        owner=owner,
        visitor_id=visitor_id,
        rerun_of=prediction,
    )


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
