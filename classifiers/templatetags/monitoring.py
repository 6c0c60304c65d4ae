"""Filters of the staff's queue page (classifiers/monitoring)."""

from __future__ import annotations

from datetime import datetime

from django import template

from classifiers.monitoring.selectors import duration_text

register = template.Library()

register.filter("duration", duration_text)


@register.filter
def ago(moment: datetime | None, now: datetime) -> str:
    """How long before ``now`` (the report's time, not the clock's)."""
    if moment is None:
        return "never"
    return f"{duration_text(max((now - moment).total_seconds(), 0.0))} ago"


@register.filter
def percent(share: float | None) -> str:
    if share is None:
        return "—"
    return f"{share * 100:.1f}%"
