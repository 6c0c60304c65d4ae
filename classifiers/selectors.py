"""Reads: every query that returns user data is scoped to who is asking."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import timedelta

from django.core.cache import cache
from django.db.models import Q, QuerySet
from django.shortcuts import get_object_or_404
from django.utils import timezone

from classifiers.models import (
    Comparison,
    Demo,
    EvaluationSet,
    ModelVersion,
    Prediction,
    PredictionStatus,
    Promotion,
)


def demo_list() -> QuerySet[Demo]:
    return Demo.objects.select_related("promoted_version")


def demo_get(*, slug: str) -> Demo:
    return get_object_or_404(demo_list(), slug=slug)


def demo_known_labels(*, demo: Demo) -> list[str]:
    """The answers the served version can give, for the demo page (dog breeds).

    Never loads a model or a gallery: the web process only reads the rows.
    """
    if not demo.is_live:
        return []
    from classifiers.serving import pipeline_for

    answers = pipeline_for(demo, demo.promoted_version, with_gallery=False).answers()
    # As a reader looks for a name: "affenpinscher" before "Yorkshire terrier".
    return sorted(answers, key=str.casefold)


def _owned_by(*, user, visitor_id: str) -> Q:
    """This person's predictions: their account's, or this browser's anonymous ones."""
    scope = Q(pk__in=[])
    if user is not None and user.is_authenticated:
        scope = Q(owner=user)
    if visitor_id:
        scope |= Q(owner__isnull=True, visitor_id=visitor_id)
    return scope


def prediction_list(*, user, visitor_id: str = "", demo_slug: str = "") -> QuerySet[Prediction]:
    """The predictions this person may see: their account's, or this browser's
    anonymous ones. Anything else is invisible (a stranger gets 404, not 403)."""
    scope = _owned_by(user=user, visitor_id=visitor_id)
    queryset = Prediction.objects.filter(scope).select_related("demo", "model_version")
    if demo_slug:
        queryset = queryset.filter(demo__slug=demo_slug)
    return queryset


def prediction_get(*, prediction_id, user, visitor_id: str = "") -> Prediction:
    return get_object_or_404(prediction_list(user=user, visitor_id=visitor_id), id=prediction_id)


def prediction_get_deleted(*, prediction_id, user, visitor_id: str = "") -> Prediction:
    """A prediction this person deleted and may still restore (same scope as
    ``prediction_list``: a stranger gets 404)."""
    deleted = Prediction.all_objects.filter(
        _owned_by(user=user, visitor_id=visitor_id), deleted_at__isnull=False
    )
    return get_object_or_404(deleted.select_related("demo"), id=prediction_id)


# -- model versions, comparisons, evaluation sets ---------------------------


def model_version_list(*, demo: Demo) -> QuerySet[ModelVersion]:
    """Every version of a demo, newest first, for the public version history."""
    return demo.versions.select_related("created_by").order_by("-number")


def model_version_get(*, demo: Demo, number: int) -> ModelVersion:
    return get_object_or_404(model_version_list(demo=demo), number=number)


def promotion_list(*, demo: Demo) -> QuerySet[Promotion]:
    """The audit trail of what the demo served: newest change first."""
    return demo.promotions.select_related("from_version", "to_version", "actor")


def demo_rollback_target(*, demo: Demo) -> ModelVersion | None:
    """The version a rollback would serve again, as model_version_rollback
    chooses it: the one that the latest promotion of the served version replaced."""
    last = (
        promotion_list(demo=demo)
        .filter(to_version=demo.promoted_version_id, action=Promotion.Action.PROMOTE)
        .first()
    )
    return last.from_version if last is not None else None


def evaluation_set_list(*, demo: Demo) -> QuerySet[EvaluationSet]:
    """Newest first: validation measures new versions on the first one."""
    return demo.evaluation_sets.select_related("uploaded_by")


def comparison_list(*, candidate: ModelVersion) -> QuerySet[Comparison]:
    return Comparison.objects.filter(candidate=candidate).select_related("baseline", "requested_by")


def comparison_get(*, demo: Demo, comparison_id: int) -> Comparison:
    return get_object_or_404(
        Comparison.objects.select_related("candidate", "baseline", "requested_by"),
        pk=comparison_id,
        candidate__demo=demo,
    )


def comparison_disagreements(*, comparison: Comparison) -> list[dict]:
    """The rows where the candidate answers differently, each with its upload
    (None when its owner has deleted it since: the photo is gone too)."""
    rows = comparison.disagreements
    ids = [_uuid(row.get("prediction", "")) for row in rows]
    uploads = Prediction.objects.in_bulk([i for i in ids if i is not None])
    return [{**row, "upload": uploads.get(_uuid(row["prediction"]))} for row in rows]


def _uuid(value: str) -> uuid.UUID | None:
    try:
        return uuid.UUID(str(value))
    except ValueError:
        return None


def prediction_get_for_staff(*, prediction_id) -> Prediction:
    """Any upload, for staff reviewing a comparison (the views check is_staff)."""
    return get_object_or_404(Prediction, id=prediction_id)


def prediction_rerun_source(
    *, prediction: Prediction, user, visitor_id: str = ""
) -> Prediction | None:
    """The earlier prediction this one re-runs, if the person may still see it."""
    if prediction.rerun_of_id is None:
        return None
    return (
        prediction_list(user=user, visitor_id=visitor_id).filter(id=prediction.rerun_of_id).first()
    )


# -- where an upload stands in the queue ------------------------------------

SPEED_WINDOW = timedelta(seconds=30)
SPEED_CACHE_SECONDS = 2  # every poll of every visitor reads it: counted at most this often


@dataclass(frozen=True)
class QueueProgress:
    ahead: int  # uploads that will be answered before this one
    eta_seconds: float  # about how long until this one is answered
    poll_after_ms: int  # when it is worth asking again


def seconds_per_answer() -> float:
    """How long the workers take per answer now, the lesser of two readings:
    the time between recent answers (right when a queue keeps them busy; when
    uploads are few it measures the visitors, not the workers) and the time
    a recent answer took from claim to answer (right when they are idle)."""
    cached = cache.get("predictions:seconds-per-answer")
    if cached is not None:
        return cached
    now = timezone.now()
    readings = []
    recent = Prediction.objects.filter(finished_at__gte=now - SPEED_WINDOW).count()
    if recent >= 5:
        readings.append(SPEED_WINDOW.total_seconds() / recent)
    spans = sorted(
        (finished - started).total_seconds()
        for started, finished in Prediction.objects.exclude(started_at=None)
        .exclude(finished_at=None)
        .order_by("-finished_at")
        .values_list("started_at", "finished_at")[:20]
    )
    if spans:
        readings.append(spans[len(spans) // 2])
    seconds = max(min(readings, default=0.5), 0.01)
    cache.set("predictions:seconds-per-answer", seconds, SPEED_CACHE_SECONDS)
    return seconds


def prediction_progress(*, prediction: Prediction) -> QueueProgress | None:
    """For an unfinished prediction: how many uploads are ahead of it (every
    running one, and every one queued before it) and about how long it will
    take at the workers' recent speed. None once it is finished.

    ``poll_after_ms`` is when the answer is likely there: a lone upload is
    asked about again after about one answer's time, not a fixed quarter of a
    second, and a long queue is not polled for nothing.
    """
    if prediction.is_finished:
        return None
    per_answer = seconds_per_answer()
    if prediction.status == PredictionStatus.RUNNING:
        started = prediction.started_at or timezone.now()
        left = max(per_answer - (timezone.now() - started).total_seconds(), 0.0)
        return QueueProgress(ahead=0, eta_seconds=round(left, 1), poll_after_ms=_poll(left))
    ahead = Prediction.objects.filter(
        Q(status=PredictionStatus.RUNNING)
        | Q(status=PredictionStatus.QUEUED, created_at__lt=prediction.created_at)
    ).count()
    eta = (ahead + 1) * per_answer
    return QueueProgress(ahead=ahead, eta_seconds=round(eta, 1), poll_after_ms=_poll(eta))


def _poll(eta: float) -> int:
    """A little after the expected answer when it is near (each poll costs the
    web a request), about halfway when it is far, between 50 ms and 3 s."""
    wait = eta + 0.02 if eta < 0.5 else eta / 2
    return min(max(round(wait * 1000), 50), 3000)
