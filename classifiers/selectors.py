"""Reads: every query that returns user data is scoped to who is asking."""

from __future__ import annotations

from django.db.models import Q, QuerySet
from django.shortcuts import get_object_or_404

from classifiers.models import Demo, Prediction


def demo_list() -> QuerySet[Demo]:
    return Demo.objects.select_related("promoted_version")


def demo_get(*, slug: str) -> Demo:
    return get_object_or_404(demo_list(), slug=slug)


def demo_known_labels(*, demo: Demo) -> list[str]:
    """The answers the served version can give, for the demo page (dog breeds)."""
    if not demo.is_live or not demo.config.get("rank_within"):
        return []
    from classifiers.inference.pipelines import pipeline_for

    return pipeline_for(demo, demo.promoted_version).known_labels()


def prediction_list(*, user, visitor_id: str = "", demo_slug: str = "") -> QuerySet[Prediction]:
    """The predictions this person may see: their account's, or this browser's
    anonymous ones. Anything else is invisible (a stranger gets 404, not 403)."""
    scope = Q(pk__in=[])
    if user is not None and user.is_authenticated:
        scope = Q(owner=user)
    if visitor_id:
        scope |= Q(owner__isnull=True, visitor_id=visitor_id)
    queryset = Prediction.objects.filter(scope).select_related("demo", "model_version")
    if demo_slug:
        queryset = queryset.filter(demo__slug=demo_slug)
    return queryset


def prediction_get(*, prediction_id, user, visitor_id: str = "") -> Prediction:
    return get_object_or_404(prediction_list(user=user, visitor_id=visitor_id), id=prediction_id)
