"""The queue page's one chart, drawn on the server as SVG: no script, no
chart library, nothing from a CDN (the Content-Security-Policy allows none)."""

from __future__ import annotations

from dataclasses import dataclass

from classifiers.monitoring.selectors import Bucket

WIDTH = 600
HEIGHT = 80


@dataclass(frozen=True)
class Bar:
    x: float
    width: float
    answered_y: float
    answered_height: float
    failed_y: float
    failed_height: float
    title: str  # the bar's tooltip and its text for screen readers


@dataclass(frozen=True)
class Chart:
    width: int
    height: int
    peak: int  # the most finished in one minute: the top of the scale
    bars: list[Bar]


def minute_bars(minutes: list[Bucket]) -> Chart:
    """One bar per minute, answers below and failures stacked on top, scaled
    to the busiest minute (at least 1, so a quiet hour draws no giant bars)."""
    peak = max((m.answered + m.failed for m in minutes), default=0)
    scale = HEIGHT / max(peak, 1)
    step = WIDTH / max(len(minutes), 1)
    bars = []
    for i, minute in enumerate(minutes):
        answered_height = minute.answered * scale
        failed_height = minute.failed * scale
        answered_y = HEIGHT - answered_height
        bars.append(
            Bar(
                x=round(i * step + 1, 2),
                width=round(step - 2, 2),
                answered_y=round(answered_y, 2),
                answered_height=round(answered_height, 2),
                failed_y=round(answered_y - failed_height, 2),
                failed_height=round(failed_height, 2),
                title=f"{minute.start:%H:%M} UTC: {minute.answered} answered, "
                f"{minute.failed} failed",
            )
        )
    return Chart(width=WIDTH, height=HEIGHT, peak=peak, bars=bars)
