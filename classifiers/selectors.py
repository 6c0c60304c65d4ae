"""Reads: every query that returns user data is scoped to who is asking."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import timedelta

from django.core.cache import cache
from django.db.models import Q, QuerySet
from django.http import Http404
from django.shortcuts import get_object_or_404
from django.utils import timezone

from classifiers.models import (
    FINISHED_STATUSES,
    Comparison,
    ComparisonStatus,
    Demo,
    EvaluationSet,
    ModelVersion,
    ModelVersionStatus,
    Prediction,
    PredictionStatus,
    Promotion,
)
from classifiers.versions.figures import figures_of, is_share, is_thin, thin_warning


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


def model_version_list_public(*, demo: Demo) -> QuerySet[ModelVersion]:
    """The versions the public is shown: ready ones that were shipped with the
    site or have been served. Staff's uploads under test, and versions that
    failed validation, are for staff only (model_version_list)."""
    served = Promotion.objects.filter(demo=demo).values("to_version")
    shipped = Q(created_by_name="", created_by__isnull=True)
    return model_version_list(demo=demo).filter(
        Q(status=ModelVersionStatus.READY) & (shipped | Q(pk__in=served))
    )


def model_version_get(*, demo: Demo, number: int) -> ModelVersion:
    return get_object_or_404(model_version_list(demo=demo), number=number)


# A comparison where more than this share of uploads is answered differently
# asks for a second look before promoting.
MANY_DISAGREEMENTS = 0.2


@dataclass(frozen=True)
class ReviewWarning:
    text: str
    strong: bool  # promoting needs "serve it anyway" ticked


@dataclass(frozen=True)
class PromotionReview:
    """What staff see before they promote: the version's figures against the
    served one's, on how many photos, and how often it disagreed with the
    served version on real uploads."""

    version: ModelVersion
    served: ModelVersion | None
    rows: list[dict]  # {"label", "candidate": figure|None, "served": figure|None}
    comparison: Comparison | None  # the latest finished one against the served version
    disagreements: int
    compared: int
    warnings: list[ReviewWarning]

    @property
    def strong(self) -> bool:
        return any(w.strong for w in self.warnings)


def promotion_review(*, version: ModelVersion) -> PromotionReview:
    demo = version.demo
    served = demo.promoted_version if demo.promoted_version_id != version.pk else None
    mine = figures_of(version.metrics)
    theirs = figures_of(served.metrics) if served is not None else []
    labels = {f["key"]: f["label"] for f in [*mine, *theirs]}
    rows = [
        {
            "key": key,
            "label": label,
            "candidate": next((f for f in mine if f["key"] == key), None),
            "served": next((f for f in theirs if f["key"] == key), None),
        }
        for key, label in labels.items()
    ]
    comparison = None
    if served is not None:
        comparison = (
            Comparison.objects.filter(
                candidate=version, baseline=served, status=ComparisonStatus.DONE
            )
            .order_by("-finished_at", "-id")
            .first()
        )
    compared = len(comparison.rows) if comparison else 0
    disagreements = len(comparison.disagreements) if comparison else 0

    warnings = []
    if not any(is_share(f) and f.get("value") is not None for f in mine):
        warnings.append(
            ReviewWarning(
                f"No figures: v{version.number} was never measured on labelled photos, so "
                "nobody knows how often it is right. Add an evaluation set and validate it "
                "again before serving it.",
                strong=True,
            )
        )
    for figure in mine:
        if is_thin(figure):
            warnings.append(
                ReviewWarning(
                    f"{figure['label']}: measured on {thin_warning(figure)}.",
                    strong=True,
                )
            )
    if served is not None:
        if comparison is None:
            warnings.append(
                ReviewWarning(
                    f"Not compared with the served v{served.number} on real uploads yet: "
                    "compare first to see where they answer differently.",
                    strong=False,
                )
            )
        elif compared and disagreements / compared > MANY_DISAGREEMENTS:
            warnings.append(
                ReviewWarning(
                    f"{disagreements} of {compared} recent uploads "
                    f"({disagreements / compared:.0%}) were answered differently from the "
                    f"served v{served.number}.",
                    strong=True,
                )
            )
    return PromotionReview(
        version=version,
        served=served,
        rows=rows,
        comparison=comparison,
        disagreements=disagreements,
        compared=compared,
        warnings=warnings,
    )


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


def prediction_with_relations() -> QuerySet[Prediction]:
    return Prediction.objects.select_related("demo", "model_version")


def prediction_is_finished(*, prediction_id) -> bool:
    """One cheap read for a long poll (classifiers/predictions/ready.py)."""
    return Prediction.objects.filter(id=prediction_id, status__in=FINISHED_STATUSES).exists()


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


# -- shared answers -----------------------------------------------------------


def prediction_get_shared(*, token: str) -> Prediction:
    """The answer its owner shares with this link: 404 once unshared (or for
    a token that never was)."""
    if not token:
        raise Http404("no such shared answer")
    return get_object_or_404(
        Prediction.objects.select_related("demo", "model_version").filter(
            status__in=(PredictionStatus.DONE, PredictionStatus.REJECTED)
        ),
        share_token=token,
    )
