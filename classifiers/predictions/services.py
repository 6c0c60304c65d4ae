"""Writes for predictions: uploads, re-runs, deletes, adopting a visitor's work.

Called by views, the API and commands. Each refusal is a ``Refused`` with a
message for the person; nothing is written or queued before the checks pass.
"""

from __future__ import annotations

import hashlib
import logging
import secrets
from datetime import timedelta
from pathlib import Path

from django.conf import settings
from django.core.files.base import ContentFile
from django.db import connection, transaction
from django.utils import timezone

from classifiers.inference.refusals import Refused
from classifiers.models import Demo, Prediction, PredictionStatus
from classifiers.predictions.tasks import run_prediction
from classifiers.uploads import decode_photo

logger = logging.getLogger(__name__)


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


class TooManyWaiting(Refused):
    """This client already has QUEUE_MAX_PER_CLIENT photos waiting for a worker."""

    code = "too_many_waiting"
    status = 429


def _client_lock(client_key: str) -> None:
    """Hold this client's lock until the transaction ends, so that parallel
    uploads of one client are counted one after the other, never all against
    the same count.

    PostgreSQL: an advisory lock named by the key. SQLite (local runs) has one
    writer at a time and its transactions begin IMMEDIATE (settings), so the
    transaction already holds the only write lock there is.
    """
    if connection.vendor == "postgresql":
        name = int.from_bytes(hashlib.sha256(client_key.encode()).digest()[:8], "big", signed=True)
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_advisory_xact_lock(%s)", [name])


def _client_guard(client_key: str) -> None:
    """Refuse a new upload while this client has QUEUE_MAX_PER_CLIENT predictions
    queued or running, so no one client can fill the queue for everyone else.

    Call inside the transaction that creates the row, after _client_lock.
    Counted over QUEUE_WINDOW_SECONDS, as the queue guard is.
    """
    since = timezone.now() - timedelta(seconds=settings.QUEUE_WINDOW_SECONDS)
    waiting = Prediction.objects.filter(
        client_key=client_key,
        status__in=(PredictionStatus.QUEUED, PredictionStatus.RUNNING),
        created_at__gte=since,
    ).count()
    if waiting >= settings.QUEUE_MAX_PER_CLIENT:
        raise TooManyWaiting(
            f"You have {waiting} photos waiting for an answer; please wait for them "
            "before sending more.",
            retry_after=settings.QUEUE_CLIENT_RETRY_AFTER,
        )


def prediction_create(
    *,
    demo: Demo,
    data: bytes,
    filename: str = "",
    owner=None,
    visitor_id: str = "",
    client_key: str = "",
    rerun_of: Prediction | None = None,
) -> Prediction:
    """Check an upload, store it re-encoded and queue it for a worker.

    Every entry point (page, API, re-run) comes through here, so each obeys
    the same checks: the demo is served, the queue has room, this client has
    not too many photos waiting (``client_key``, from classifiers.clients; only
    callers that are not a client, such as tests and commands, leave it empty),
    the photo is an image within the limits. Raises Refused before anything
    is written.
    """
    if not demo.is_live:
        raise DemoNotServed(f"{demo.title} is coming soon and does not take uploads yet.")
    _queue_guard()
    decoded = decode_photo(data)
    with transaction.atomic():
        if client_key:
            _client_lock(client_key)
            _client_guard(client_key)
        prediction = Prediction(
            demo=demo,
            owner=owner if owner is not None and owner.is_authenticated else None,
            visitor_id=visitor_id,
            client_key=client_key,
            image_sha256=decoded.sha256,
            original_name=Path(filename).name[:255],
            rerun_of=rerun_of,
            created_at=timezone.now(),
        )
        prediction.image.save(f"{prediction.id}.jpg", ContentFile(decoded.jpeg), save=False)
        prediction.save()
        logger.info(
            "prediction %s accepted: %s, %s bytes%s",
            prediction.id,
            demo.slug,
            len(data),
            f", a re-run of {rerun_of.id}" if rerun_of else "",
            extra={"prediction_id": str(prediction.id)},
        )
        # The worker must never see an id whose row is not committed yet.
        transaction.on_commit(lambda: _queue(prediction))
    return prediction


def _queue(prediction: Prediction) -> None:
    # None: the broker did not take it (portfolio.celery.Doorbell); the sweep rings later.
    if run_prediction.delay(str(prediction.id)) is not None:
        logger.info(
            "prediction %s queued", prediction.id, extra={"prediction_id": str(prediction.id)}
        )


def prediction_rerun(
    *, prediction: Prediction, owner=None, visitor_id: str = "", client_key: str = ""
) -> Prediction:
    """Queue the same photo again on the demo's currently served version."""
    try:
        with prediction.image.open("rb") as f:
            data = f.read()
    except (OSError, ValueError) as exc:
        # Gone from storage, or never stored (ValueError: no file). The
        # storage's own text names server paths: it is not for the person.
        raise Refused("This upload's photo is gone, so it cannot be re-run.") from exc
    return prediction_create(
        demo=prediction.demo,
        data=data,
        filename=prediction.original_name,
        owner=owner,
        visitor_id=visitor_id,
        client_key=client_key,
        rerun_of=prediction,
    )


def predictions_delete(*, predictions) -> int:
    """Delete these predictions (a queryset, already scoped to their owner)
    with their photos and heatmaps."""
    with transaction.atomic():
        rows = list(
            predictions.select_related(None)
            .only("id", "image", "heatmap")
            .select_for_update(of=("self",))
        )
        # By id: an upload that lands meanwhile is not deleted unseen (and a
        # deleted one waiting for its undo is among what may be passed in).
        Prediction.all_objects.filter(pk__in=[p.pk for p in rows]).delete()
    # Files after their rows: a failure in between leaves a file no row names,
    # never a row whose photo is gone.
    for prediction in rows:
        for file in (prediction.image, prediction.heatmap):
            if file:
                file.storage.delete(file.name)
    return len(rows)


def prediction_delete(*, prediction: Prediction) -> None:
    predictions_delete(predictions=Prediction.objects.filter(pk=prediction.pk))


def predictions_delete_all(*, owner, demo_slug: str = "") -> int:
    """Delete the owner's predictions (of one demo when ``demo_slug`` is given:
    what a filtered history shows, never more). Returns how many the history
    showed; those already deleted and waiting for an undo go now too."""
    predictions = Prediction.objects.filter(owner=owner)
    waiting = Prediction.all_objects.filter(owner=owner, deleted_at__isnull=False)
    if demo_slug:
        predictions = predictions.filter(demo__slug=demo_slug)
        waiting = waiting.filter(demo__slug=demo_slug)
    count = predictions_delete(predictions=predictions)
    predictions_delete(predictions=waiting)
    return count


def prediction_trash(*, prediction: Prediction) -> None:
    """Delete one prediction the way a person expects from a page: gone at
    once from every list, page and the API, yet restorable
    (``prediction_restore``) for PREDICTION_UNDO_SECONDS; then the purge
    (worker.predictions_purge_deleted) removes the row with its photo and heatmap."""
    now = timezone.now()
    Prediction.objects.filter(pk=prediction.pk).update(deleted_at=now)
    prediction.deleted_at = now


def prediction_restore(*, prediction: Prediction) -> None:
    """Undo ``prediction_trash`` while its window is open."""
    if prediction.deleted_at is None:
        return
    if prediction.deleted_at < timezone.now() - timedelta(seconds=settings.PREDICTION_UNDO_SECONDS):
        raise Refused("Too late to undo: that prediction is deleted for good.", code="too_late")
    restored = Prediction.all_objects.filter(
        pk=prediction.pk, deleted_at=prediction.deleted_at
    ).update(deleted_at=None)
    if not restored:  # the purge got there first
        raise Refused("Too late to undo: that prediction is deleted for good.", code="too_late")
    prediction.deleted_at = None


def account_delete(*, user) -> int:
    """Delete an account with everything of it: its predictions with their
    photos and heatmaps, its API token (cascade). Returns the predictions deleted.

    Uploads it made as staff (model versions, evaluation sets) stay, as does
    the audit trail, which keeps the actor's name (Promotion.actor_name).
    """
    # Not one transaction: should the account's own delete fail, what the
    # person asked to be deleted is gone already, and the photos with it.
    count = predictions_delete_all(owner=user)
    user.delete()
    return count


def predictions_adopt(*, user, visitor_id: str) -> int:
    """Move the anonymous predictions of this browser to ``user``'s history."""
    if not visitor_id:
        return 0
    return Prediction.objects.filter(owner__isnull=True, visitor_id=visitor_id).update(owner=user)


# -- sharing ------------------------------------------------------------------


class NotAnswered(Refused):
    """Only a finished answer can be shared or flagged."""

    code = "not_answered"


def prediction_share(*, prediction: Prediction, show_photo: bool) -> Prediction:
    """Make the answer readable by anyone with its link (``get_shared_url``);
    the photo and heatmap too only with ``show_photo``.

    Sharing a shared answer again keeps its link and changes only what it
    shows. The caller has checked that the person owns the prediction.
    """
    if not prediction.is_answered:
        raise NotAnswered("Only an answer can be shared: wait until the model has answered.")
    with transaction.atomic():
        row = Prediction.objects.select_for_update().get(pk=prediction.pk)
        # 24 random bytes: unguessable, so the link is the only key to the page.
        row.share_token = row.share_token or secrets.token_urlsafe(24)
        row.share_photo = show_photo
        row.shared_at = row.shared_at or timezone.now()
        row.save(update_fields=["share_token", "share_photo", "shared_at"])
    prediction.share_token, prediction.share_photo = row.share_token, row.share_photo
    prediction.shared_at = row.shared_at
    return prediction


def prediction_unshare(*, prediction: Prediction) -> None:
    """Make it private again: its link stops working (404) at once; sharing
    it again makes a new link."""
    Prediction.objects.filter(pk=prediction.pk).update(
        share_token=None, share_photo=False, shared_at=None
    )
    prediction.share_token, prediction.share_photo, prediction.shared_at = None, False, None
