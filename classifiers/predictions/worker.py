"""What a worker does with a prediction id: claim, run, finish or fail; the
sweep that rescues predictions whose worker or message was lost; housekeeping.

Runs in Celery worker processes (through ``tasks``), never in the web process.

The row is the truth and the broker only a doorbell. A claim is a conditional
UPDATE that stamps ``started_at``; that stamp is the claim's token: the
heartbeat, the answer and a failure are written only while the row still
carries it, so a worker whose prediction was taken over (it looked dead)
cannot answer a second time.
"""

from __future__ import annotations

import logging
import os
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from datetime import datetime, timedelta

from celery.exceptions import SoftTimeLimitExceeded
from django.conf import settings
from django.core.files.base import ContentFile
from django.db import close_old_connections, connection, transaction
from django.db.models import F, Q
from django.utils import timezone
from PIL import Image

from classifiers.inference.explain import heatmap_png
from classifiers.inference.images import open_stored
from classifiers.inference.refusals import Refused
from classifiers.models import Demo, ModelVersion, Prediction, PredictionStatus
from classifiers.predictions.ready import announce as announce_answer
from classifiers.serving import model_for, pipeline_for

logger = logging.getLogger(__name__)


def _about(prediction_id) -> dict[str, str]:
    """A log line's ``extra``: the prediction it is about (portfolio/logs.py),
    which in a batch is not always the one whose task is running."""
    return {"prediction_id": str(prediction_id)}


GENERIC_FAILURE = "The model could not process this image; the error has been logged."
TOO_SLOW = "The model took too long."
PHOTO_MISSING = (
    "This photo is missing from storage, so it could not be answered; please upload it again."
)


def _stale_before(now: datetime, stale_after: timedelta | None = None) -> datetime:
    return now - (stale_after or timedelta(seconds=settings.PREDICTION_STALE_SECONDS))


def _lost(stale_before: datetime) -> Q:
    """Running, but its worker stopped beating (or never beat: rows claimed
    before heartbeats existed)."""
    return Q(status=PredictionStatus.RUNNING) & (
        Q(heartbeat_at__lt=stale_before) | Q(heartbeat_at__isnull=True, started_at__lt=stale_before)
    )


def _claim(*, prediction_id, stale_after: timedelta | None = None) -> datetime | None:
    """Claim the row; the ``started_at`` written is the claim's token."""
    now = timezone.now()
    claimable = Q(status=PredictionStatus.QUEUED) | (
        _lost(_stale_before(now, stale_after))
        & Q(attempts__lt=settings.PREDICTION_MAX_ATTEMPTS)  # the sweep fails the others
    )
    promoted = (
        Prediction.objects.filter(id=prediction_id)
        .values_list("demo__promoted_version_id", flat=True)
        .first()
    )
    if promoted is None:
        return None
    updated = Prediction.objects.filter(claimable, id=prediction_id).update(
        status=PredictionStatus.RUNNING,
        started_at=now,
        heartbeat_at=now,
        attempts=F("attempts") + 1,
        model_version_id=promoted,
    )
    return now if updated == 1 else None


def prediction_claim(*, prediction_id, stale_after: timedelta | None = None) -> bool:
    """Mark a queued prediction running; False if someone else has it or it is done.

    A conditional UPDATE, so a redelivered task cannot run a prediction twice.
    A running row whose heartbeat stopped (its worker died) can be claimed
    again, up to PREDICTION_MAX_ATTEMPTS claims in all. The demo's served
    version is pinned in the same UPDATE: a promotion mid-way never mixes two
    versions in one answer.
    """
    return _claim(prediction_id=prediction_id, stale_after=stale_after) is not None


def prediction_finish(
    *, prediction: Prediction, outcome: dict, image_size: tuple[int, int] | None = None
) -> bool:
    """Store the answer; a Grad-CAM grid in it is also saved as an overlay image.

    Only while the row is still this claim's (``prediction.started_at``): an
    answer from a worker that lost its claim is dropped, so each prediction
    is answered once. Returns whether the answer was stored.
    """
    details = outcome.get("details", {})
    fields = {
        "status": outcome["status"],
        "result": outcome,
        "finished_at": timezone.now(),
    }
    if details.get("heatmap") and details.get("crop_box"):
        png = heatmap_png(details["heatmap"], box=details["crop_box"])
        details["heatmap_covers"] = "photo"  # Prediction.heatmap_style: the whole photo
        prediction.heatmap.save(f"{prediction.id}-heatmap.png", ContentFile(png), save=False)
        fields["heatmap"] = prediction.heatmap.name
    mine = Prediction.objects.filter(id=prediction.id, status=PredictionStatus.RUNNING)
    if prediction.started_at is not None:
        mine = mine.filter(started_at=prediction.started_at)
    if not mine.update(**fields):
        logger.warning(
            "prediction %s was taken over or deleted; answer dropped",
            prediction.id,
            extra=_about(prediction.id),
        )
        if "heatmap" in fields:
            prediction.heatmap.delete(save=False)
        return False
    for name, value in fields.items():
        setattr(prediction, name, value)
    announce_answer(prediction.id)
    # One line per stored answer: bench/faults.py counts them to find duplicates.
    logger.info(
        "prediction %s answered %s (attempt %s)",
        prediction.id,
        outcome["status"],
        prediction.attempts,
        extra=_about(prediction.id),
    )
    return True


def prediction_fail(*, prediction_id, reason: str, claimed_at: datetime | None = None) -> None:
    """Fail an unfinished prediction with a reason the user reads (no paths,
    no exception text). With ``claimed_at``, only while the claim is still
    this worker's."""
    unfinished = Prediction.objects.filter(id=prediction_id).exclude(
        status__in=(PredictionStatus.DONE, PredictionStatus.REJECTED, PredictionStatus.FAILED)
    )
    if claimed_at is not None:
        unfinished = unfinished.filter(started_at=claimed_at)
    if unfinished.update(status=PredictionStatus.FAILED, error=reason, finished_at=timezone.now()):
        announce_answer(prediction_id)
        logger.info("prediction %s failed: %s", prediction_id, reason, extra=_about(prediction_id))


def _claim_company(*, demo_id: int, version_id: int, claimed_at: datetime, limit: int) -> list:
    """Claim up to ``limit`` more queued predictions of the same demo, oldest
    first, for the same forward pass (and the same served version and claim
    token). Their messages arrive later and find nothing left to do.

    ``skip_locked``: two workers batching at once take different rows, never
    wait for each other (PostgreSQL; SQLite has one writer at a time anyway).
    Only rows never tried before: one that lost its worker runs alone.
    """
    if limit <= 0:
        return []
    with transaction.atomic():
        ids = list(
            Prediction.objects.select_for_update(skip_locked=True)
            .filter(status=PredictionStatus.QUEUED, demo_id=demo_id, attempts=0)
            .order_by("created_at")
            .values_list("id", flat=True)[:limit]
        )
        if ids:
            Prediction.objects.filter(id__in=ids, status=PredictionStatus.QUEUED).update(
                status=PredictionStatus.RUNNING,
                started_at=claimed_at,
                heartbeat_at=claimed_at,
                attempts=F("attempts") + 1,
                model_version_id=version_id,
            )
    return list(
        Prediction.objects.filter(
            id__in=ids, status=PredictionStatus.RUNNING, started_at=claimed_at
        ).values_list("id", flat=True)
    )


def prediction_run(*, prediction_id) -> None:
    """Claim the prediction and up to PREDICTION_BATCH_SIZE - 1 others of the
    same demo that are waiting, answer them in one forward pass, and store
    each answer (or failure) on its own; the heartbeat says this process is
    alive while it works."""
    claimed_at = _claim(prediction_id=prediction_id)
    if claimed_at is None:
        logger.info("prediction %s not claimable (taken, finished or deleted)", prediction_id)
        return
    first = Prediction.objects.values("demo_id", "model_version_id", "attempts").get(
        id=prediction_id
    )
    company = []
    if first["attempts"] == 1:
        # A prediction tried before lost its worker: it may be the photo that
        # kills it, so it runs alone and never takes others down with it.
        company = _gather_company(first, claimed_at)
    ids = [prediction_id, *company]
    for claimed in ids:
        logger.info(
            "prediction %s claimed (attempt %s, batch of %s)",
            claimed,
            first["attempts"] if claimed == prediction_id else 1,
            len(ids),
            extra=_about(claimed),
        )
    with ExitStack() as stack:
        for claimed in ids:
            stack.enter_context(heartbeats.beating(claimed, claimed_at))
        try:
            _answer(ids, claimed_at)
        except SoftTimeLimitExceeded:
            for claimed in ids:
                prediction_fail(prediction_id=claimed, reason=TOO_SLOW, claimed_at=claimed_at)


def _wait_for_company(seconds: float) -> None:
    time.sleep(seconds)  # a name of its own, for the tests


def _gather_company(first: dict, claimed_at: datetime) -> list:
    """The others of this forward pass: whatever of the same demo waits now
    and, if the batch is not full, what arrived after PREDICTION_BATCH_WAIT_MS
    (0 by default: under load the queue fills while a batch runs, so a wait
    only delays a lone upload; bench/throughput.py --layout measures it)."""
    limit = settings.PREDICTION_BATCH_SIZE - 1

    def claim(most: int) -> list:
        return _claim_company(
            demo_id=first["demo_id"],
            version_id=first["model_version_id"],
            claimed_at=claimed_at,
            limit=most,
        )

    company = claim(limit)
    if len(company) < limit and settings.PREDICTION_BATCH_WAIT_MS > 0:
        _wait_for_company(settings.PREDICTION_BATCH_WAIT_MS / 1000)
        company += claim(limit - len(company))
    return company


def _answer(ids: list, claimed_at: datetime) -> None:
    """Run the claimed predictions' photos through their pipeline together.

    Each is still its own: a photo that cannot be opened fails alone, and if
    the batch as a whole fails, each photo is tried on its own so that one bad
    photo never takes its neighbours down.
    """
    rows = {
        str(pk): row
        for pk, row in Prediction.objects.select_related("demo", "model_version")
        .in_bulk(ids)
        .items()
    }
    ready: list[tuple[Prediction, Image.Image]] = []
    for claimed in ids:
        prediction = rows.get(str(claimed))
        if prediction is None:
            continue  # deleted by its owner meanwhile
        with _failing(prediction.id, claimed_at):
            ready.append((prediction, _open_photo(prediction)))
    if not ready:
        return
    demo, version = ready[0][0].demo, ready[0][0].model_version
    try:
        pipeline = pipeline_for(demo, version)
        model = model_for(version, pipeline)
    except SoftTimeLimitExceeded:
        raise
    except Refused as exc:  # e.g. the artifact is missing from the storage
        logger.error("the model of %s could not be loaded: %s", version, exc.message)
        for prediction, _ in ready:
            prediction_fail(
                prediction_id=prediction.id,
                reason=f"{exc.message} The error has been logged.",
                claimed_at=claimed_at,
            )
        return
    except Exception:
        logger.exception("the model of %s could not be loaded", version)
        for prediction, _ in ready:
            prediction_fail(
                prediction_id=prediction.id, reason=GENERIC_FAILURE, claimed_at=claimed_at
            )
        return
    try:
        outcomes = infer(pipeline, model, [image for _, image in ready])
    except SoftTimeLimitExceeded:
        raise
    except Exception:
        logger.warning("a batch of %s photos failed; answering them one by one", len(ready))
        outcomes = [None] * len(ready)
    for (prediction, image), outcome in zip(ready, outcomes, strict=True):
        with _failing(prediction.id, claimed_at):
            if outcome is None:
                outcome = pipeline.run(model, image)
            prediction_finish(
                prediction=prediction, outcome=outcome.as_dict(), image_size=image.size
            )


def _open_photo(prediction: Prediction) -> Image.Image:
    """The stored photo, from whatever storage holds it (not this machine's disk)."""
    if not prediction.image.name:
        raise Refused(PHOTO_MISSING)
    try:
        return open_stored(prediction.image)
    except FileNotFoundError as exc:
        logger.error("prediction %s: its photo %s is not in the storage", prediction.id, exc)
        raise Refused(PHOTO_MISSING) from exc


def infer(pipeline, model, images: list[Image.Image]) -> list:
    """The forward pass of a batch (one name for it: the fault tests hold or
    kill a worker here, mid-prediction)."""
    return pipeline.run_batch(model, images)


@contextmanager
def _failing(prediction_id, claimed_at: datetime) -> Iterator[None]:
    """Store an exception as this prediction's failure, with a reason the user
    may read (a Refused's message, never exception text or paths)."""
    try:
        yield
    except SoftTimeLimitExceeded:
        raise
    except Refused as exc:
        prediction_fail(prediction_id=prediction_id, reason=exc.message, claimed_at=claimed_at)
    except Exception:
        logger.exception("prediction %s failed", prediction_id, extra=_about(prediction_id))
        prediction_fail(prediction_id=prediction_id, reason=GENERIC_FAILURE, claimed_at=claimed_at)


# -- heartbeats ---------------------------------------------------------------------


def predictions_heartbeat(*, running: dict[str, datetime]) -> int:
    """Stamp the rows this process runs (id -> claim token) as alive now."""
    now = timezone.now()
    touched = 0
    for prediction_id, claimed_at in running.items():
        touched += Prediction.objects.filter(
            id=prediction_id, status=PredictionStatus.RUNNING, started_at=claimed_at
        ).update(heartbeat_at=now)
    return touched


class Heartbeats:
    """One daemon thread per worker process beats for the predictions it runs.

    Started on first use in the process that runs predictions (a thread does
    not survive the fork of a pool process). It beats even while the model
    holds the process busy: TensorFlow and Pillow release the GIL in their
    heavy parts, and a beat every PREDICTION_HEARTBEAT_SECONDS is far inside
    PREDICTION_STALE_SECONDS. A process that dies stops beating, which is how
    the sweep tells a dead worker from a slow one.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._running: dict[str, datetime] = {}
        self._thread: threading.Thread | None = None
        self._pid: int | None = None

    @contextmanager
    def beating(self, prediction_id, claimed_at: datetime) -> Iterator[None]:
        self._ensure_thread()
        with self._lock:
            self._running[str(prediction_id)] = claimed_at
        try:
            yield
        finally:
            with self._lock:
                self._running.pop(str(prediction_id), None)

    def _ensure_thread(self) -> None:
        with self._lock:
            pid = os.getpid()
            if self._thread is not None and self._thread.is_alive() and self._pid == pid:
                return
            self._pid = pid
            self._thread = threading.Thread(
                target=self._loop, name="prediction-heartbeat", daemon=True
            )
            self._thread.start()

    def _loop(self) -> None:
        while True:
            time.sleep(settings.PREDICTION_HEARTBEAT_SECONDS)
            with self._lock:
                running = dict(self._running)
            if not running:
                continue
            try:
                close_old_connections()
                predictions_heartbeat(running=running)
            except Exception:  # the database may be restarting: beat again next time
                logger.exception("prediction heartbeat failed")
            finally:
                # A beat every few seconds needs no open connection in between
                # (and an idle one would keep a test database from being dropped).
                connection.close()


heartbeats = Heartbeats()


# -- the sweep ----------------------------------------------------------------------


@dataclass
class SweepReport:
    requeued: int = 0  # running with a stopped heartbeat: queued again
    failed: int = 0  # stopped too often, or never taken
    resent: int = 0  # queued too long: rung again

    def __bool__(self) -> bool:
        return bool(self.requeued or self.failed or self.resent)


def _stopped_too_often(attempts: int) -> str:
    return (
        f"The worker stopped while answering this photo {attempts} times, so it will not "
        "be tried again. Please try another photo."
    )


NEVER_TAKEN = "No worker took this photo in time. Please upload it again."
SWEEP_BATCH = 500  # rows per kind per sweep; the next sweep takes the rest


def predictions_sweep(*, send: Callable[[str], object]) -> SweepReport:
    """Rescue what a dead worker or a lost message left behind.

    - Running with a stopped heartbeat: back to queued and ``send`` the id
      again, or failed with the reason once it was claimed
      PREDICTION_MAX_ATTEMPTS times.
    - Queued, last rung more than PREDICTION_RESEND_SECONDS ago, or before
      a later upload that a worker already took (``_last_overtaker``):
      ``send`` again (for a queued row ``heartbeat_at`` is when it was last
      sent by the sweep); failed once queued longer than
      PREDICTION_QUEUED_GIVE_UP_SECONDS.

    Every change is a conditional UPDATE, so two sweeps at once (beat and a
    starting worker) act once per row; a duplicate message is a no-op claim.
    """
    now = timezone.now()
    report = SweepReport()
    lost = _lost(_stale_before(now))
    for row in Prediction.objects.filter(lost).values("id", "attempts")[:SWEEP_BATCH]:
        _rescue(lost, row, send=send, now=now, report=report)

    given_up = Q(created_at__lt=now - timedelta(seconds=settings.PREDICTION_QUEUED_GIVE_UP_SECONDS))
    report.failed += Prediction.objects.filter(given_up, status=PredictionStatus.QUEUED).update(
        status=PredictionStatus.FAILED, error=NEVER_TAKEN, finished_at=now
    )

    waiting = Q(status=PredictionStatus.QUEUED) & _rung_before(
        now - timedelta(seconds=settings.PREDICTION_RESEND_SECONDS)
    )
    overtaken_by = _last_overtaker(now)
    if overtaken_by is not None:
        waiting |= Q(status=PredictionStatus.QUEUED) & _rung_before(overtaken_by)
    ids = Prediction.objects.filter(waiting).order_by("created_at").values_list("id", flat=True)
    for prediction_id in list(ids[:SWEEP_BATCH]):
        if Prediction.objects.filter(waiting, id=prediction_id).update(heartbeat_at=now):
            report.resent += 1
            logger.info(
                "prediction %s rung again: still queued", prediction_id, extra=_about(prediction_id)
            )
            _ring(send, prediction_id)
    if report:
        logger.info("prediction sweep: %s", report)
    return report


def _rung_before(moment: datetime) -> Q:
    """Its task was last sent before ``moment`` (when created, or by the sweep)."""
    return Q(heartbeat_at__lt=moment) | Q(heartbeat_at__isnull=True, created_at__lt=moment)


def _last_overtaker(now: datetime) -> datetime | None:
    """When the newest upload was made whose task a worker took more than
    PREDICTION_OVERTAKEN_SECONDS ago.

    Predictions share one first-in, first-out queue: a photo whose task was
    sent before that upload's and that still waits lost its message (a worker
    died holding it prefetched, the broker restarted empty), so it is rung
    again now instead of after PREDICTION_RESEND_SECONDS. The margin covers a
    message prefetched by another worker still busy; a needless ring is only
    a claim that finds nothing to do.
    """
    margin = timedelta(seconds=settings.PREDICTION_OVERTAKEN_SECONDS)
    taken = (
        Prediction.objects.filter(
            created_at__gte=now - timedelta(seconds=settings.PREDICTION_QUEUED_GIVE_UP_SECONDS),
            started_at__lt=now - margin,
        )
        .order_by("-created_at")
        .values_list("created_at", flat=True)
        .first()
    )
    return None if taken is None else min(taken, now - margin)


def _rescue(lost: Q, row: dict, *, send, now: datetime, report: SweepReport) -> None:
    """Queue again (and ring) a row whose worker died, or fail it after
    PREDICTION_MAX_ATTEMPTS claims; only while it is still ``lost``."""
    this_row = Prediction.objects.filter(lost, id=row["id"], attempts=row["attempts"])
    if row["attempts"] >= settings.PREDICTION_MAX_ATTEMPTS:
        if this_row.update(
            status=PredictionStatus.FAILED,
            error=_stopped_too_often(row["attempts"]),
            finished_at=now,
        ):
            report.failed += 1
            logger.warning(
                "prediction %s failed: its worker stopped %s times",
                row["id"],
                row["attempts"],
                extra=_about(row["id"]),
            )
    elif this_row.update(status=PredictionStatus.QUEUED, heartbeat_at=now):
        report.requeued += 1
        logger.warning(
            "prediction %s lost its worker; queued again", row["id"], extra=_about(row["id"])
        )
        _ring(send, row["id"])


def prediction_worker_lost(
    *, prediction_id, died_at: datetime, send: Callable[[str], object]
) -> SweepReport:
    """The pool process running this prediction died, as its main worker
    process saw: rescue it now rather than when its heartbeat goes stale.

    Only the claim that was running then: a claim made since has beaten
    after ``died_at``.
    """
    lost = Q(status=PredictionStatus.RUNNING, heartbeat_at__lte=died_at)
    report = SweepReport()
    claim = Prediction.objects.filter(lost, id=prediction_id).values("started_at").first()
    if claim is None:
        return report
    # The predictions answered in the same batch carry the same claim token.
    batch = Prediction.objects.filter(lost, started_at=claim["started_at"])
    now = timezone.now()
    for row in batch.values("id", "attempts"):
        _rescue(lost, row, send=send, now=now, report=report)
    return report


def _ring(send: Callable[[str], object], prediction_id) -> None:
    try:
        send(str(prediction_id))
    except Exception:  # the broker is down: the row stays queued, the next sweep rings
        logger.exception("could not queue prediction %s; the sweep will try again", prediction_id)


# -- housekeeping -------------------------------------------------------------------


def predictions_expire_anonymous(*, now: datetime | None = None) -> int:
    """Delete anonymous predictions (no account) older than
    ANONYMOUS_RETENTION_DAYS, with their photos and heatmaps."""
    cutoff = (now or timezone.now()) - timedelta(days=settings.ANONYMOUS_RETENTION_DAYS)
    expired = Prediction.objects.filter(owner__isnull=True, created_at__lt=cutoff)
    deleted = 0
    while True:
        batch = list(expired.only("id", "image", "heatmap")[:SWEEP_BATCH])
        if not batch:
            break
        for prediction in batch:
            # Files first: a row without its file is harmless, a file without its row is a leak.
            if prediction.image:
                prediction.image.delete(save=False)
            if prediction.heatmap:
                prediction.heatmap.delete(save=False)
        deleted += (
            Prediction.objects.filter(id__in=[p.id for p in batch])
            .delete()[1]
            .get(Prediction._meta.label, 0)
        )
    if deleted:
        logger.info("deleted %s anonymous predictions older than %s", deleted, cutoff)
    return deleted


def predictions_purge_deleted(*, now: datetime | None = None) -> int:
    """Remove predictions deleted from a page more than PREDICTION_UNDO_SECONDS
    ago (services.prediction_trash), with their photos and heatmaps."""
    cutoff = (now or timezone.now()) - timedelta(seconds=settings.PREDICTION_UNDO_SECONDS)
    expired = Prediction.all_objects.filter(deleted_at__lt=cutoff)
    purged = 0
    while True:
        batch = list(expired.only("id", "image", "heatmap", "deleted_at")[:SWEEP_BATCH])
        if not batch:
            break
        # The row first, only if still deleted: an undo meanwhile keeps it (and its files).
        gone = [
            p
            for p in batch
            if Prediction.all_objects.filter(id=p.id, deleted_at=p.deleted_at).delete()[0]
        ]
        for prediction in gone:
            for file in (prediction.image, prediction.heatmap):
                if file:
                    file.storage.delete(file.name)
        purged += len(gone)
    if purged:
        logger.info("purged %s deleted predictions", purged)
    return purged


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
