"""The versions' charts (classifiers/versions/charts.py) in templates."""

from __future__ import annotations

from django import template
from django.utils.safestring import SafeString, mark_safe

from classifiers.versions import charts

register = template.Library()


@register.simple_tag
def reliability_svg(version) -> SafeString:
    """A version's reliability diagram (an empty one when none was measured)."""
    reliability = (version.metrics or {}).get("reliability")
    # Every text the chart holds is escaped where it is drawn.
    return mark_safe(  # noqa: S308
        charts.reliability_diagram(
            reliability,
            chart_id=f"reliability-v{version.number}",
            title=f"Reliability diagram of v{version.number} · {version.name}",
        )
    )


@register.simple_tag
def figures_svg(versions, chart_id: str, served_id: int | None = None) -> SafeString:
    return mark_safe(  # noqa: S308
        charts.figures_chart(list(versions), chart_id=chart_id, served_id=served_id)
    )


@register.filter
def has_reliability(metrics: dict | None) -> bool:
    return bool(((metrics or {}).get("reliability") or {}).get("bins"))
