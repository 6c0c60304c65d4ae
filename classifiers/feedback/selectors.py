"""Reads for flags: what a person may say an answer should be, and the
flags staff review."""

from __future__ import annotations

from django.db.models import Count, Q, QuerySet
from django.shortcuts import get_object_or_404

from classifiers.models import Demo, Flag, FlagStatus, Prediction
from classifiers.serving import pipeline_for


def correction_choices(*, demo: Demo) -> list[tuple[str, str]]:
    """(label, text) a flag may name, from the served version's answers and
    refusal; empty when the answer is written (the look-alike's names)."""
    if demo.promoted_version is None:
        return []
    return pipeline_for(demo, demo.promoted_version, with_gallery=False).corrections()


def flag_exists(*, prediction: Prediction, client_key: str) -> bool:
    return Flag.objects.filter(prediction=prediction, client_key=client_key).exists()


def flag_list(*, demo: Demo, status: str = FlagStatus.OPEN) -> QuerySet[Flag]:
    flags = Flag.objects.filter(demo=demo).select_related(
        "prediction", "model_version", "evaluation_set", "resolved_by"
    )
    return flags.filter(status=status) if status else flags


def flag_get(*, flag_id: int) -> Flag:
    return get_object_or_404(Flag.objects.select_related("demo", "prediction"), pk=flag_id)


def demos_with_flag_counts() -> QuerySet[Demo]:
    """Every demo with ``open_flags`` and ``all_flags`` counted, for the staff page."""
    return Demo.objects.annotate(
        open_flags=Count("flags", filter=Q(flags__status=FlagStatus.OPEN)),
        all_flags=Count("flags"),
    ).order_by("position", "slug")
