"""Small charts of model versions, drawn on the server as inline SVG: no
script, no CDN, nothing to load, and readable by a screen reader (each chart
has a <title> and a <desc> that says in words what it draws).

* ``reliability_diagram``: how often a version's answers were right against
  how sure it said it was, per confidence bin, with the number of answers in
  each bin and the diagonal of perfect calibration. Drawn from
  ``metrics["reliability"]`` (classifiers/inference/evaluation.py).
* ``figures_chart``: one figure (top-1 by default) of every version side by
  side, a point with its 95% interval as whiskers and its sample size.

Colours come from classes the site's stylesheet sets (so dark mode can
change them), with presentation attributes as the fallback. Every text from
the database is escaped here; templates mark the result safe.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from html import escape

from classifiers.inference.stats import Share
from classifiers.versions.figures import figures_of, is_share, is_thin

ACCENT = "#2f6fec"
MUTED = "#6b7280"
WARN = "#b45309"


def _e(text: object) -> str:
    return escape(str(text), quote=True)


def _pct(value: float) -> str:
    return f"{value * 100:.0f}%"


def _svg(
    *, width: int, height: int, chart_id: str, title: str, desc: str, body: Iterable[str]
) -> str:
    ids = f"{_e(chart_id)}-title {_e(chart_id)}-desc"
    return "".join(
        [
            f'<svg xmlns="http://www.w3.org/2000/svg" class="chart" id="{_e(chart_id)}" '
            f'viewBox="0 0 {width} {height}" width="{width}" height="{height}" '
            f'role="img" aria-labelledby="{ids}">',
            f'<title id="{_e(chart_id)}-title">{_e(title)}</title>',
            f'<desc id="{_e(chart_id)}-desc">{_e(desc)}</desc>',
            *body,
            "</svg>",
        ]
    )


def _text(
    x: float,
    y: float,
    text: str,
    *,
    cls: str = "chart-text",
    anchor: str = "middle",
    size: int = 11,
    extra: str = "",
) -> str:
    return (
        f'<text x="{x:.1f}" y="{y:.1f}" class="{cls}" text-anchor="{anchor}" '
        f'font-size="{size}" fill="currentColor"{extra}>{_e(text)}</text>'
    )


# -- reliability diagram -------------------------------------------------------------


@dataclass(frozen=True)
class _Plot:
    left: int = 52
    top: int = 30  # room for the row of counts above the frame
    size: int = 240  # the square plotting area, 0-1 on both axes

    def x(self, value: float) -> float:
        return self.left + value * self.size

    def y(self, value: float) -> float:
        return self.top + (1 - value) * self.size


def reliability_diagram(
    reliability: dict | None, *, chart_id: str, title: str = "Reliability diagram"
) -> str:
    """Bars of how often answers were right, per bin of the confidence shown;
    the dashed diagonal is where a calibrated model's bars end; the number
    above each bar is how many answers fell in that bin."""
    plot = _Plot()
    width, height = plot.left + plot.size + 16, plot.top + plot.size + 46
    bins = [b for b in (reliability or {}).get("bins", []) if b.get("n")]
    body = [_axes(plot)]
    if not bins:
        body.append(
            _text(plot.x(0.5), plot.y(0.5), "Not measured on labelled photos", cls="chart-empty")
        )
        desc = (
            "No reliability diagram: this version's answers were not measured on labelled "
            "photos with their confidence kept."
        )
        return _svg(
            width=width, height=height, chart_id=chart_id, title=title, desc=desc, body=body
        )
    body.append(_text(plot.left - 5, plot.top - 8, "answers", anchor="end", size=10))
    parts = []
    for b in bins:
        low, high, n, right = float(b["low"]), float(b["high"]), int(b["n"]), int(b["right"])
        accuracy = right / n
        x0, x1 = plot.x(low) + 1.5, plot.x(high) - 1.5
        top = plot.y(accuracy)
        body.append(
            f'<rect class="chart-bar" x="{x0:.1f}" y="{top:.1f}" width="{x1 - x0:.1f}" '
            f'height="{plot.y(0) - top:.1f}" fill="{ACCENT}" fill-opacity="0.75">'
            f"<title>{_e(_bin_words(b))}</title></rect>"
        )
        # Counts in a row above the frame, over their bars: readable at any height.
        body.append(_text((x0 + x1) / 2, plot.top - 8, str(n), cls="chart-count", size=10))
        parts.append(_bin_words(b))
    total = (reliability or {}).get("n") or sum(int(b["n"]) for b in bins)
    where = (reliability or {}).get("measured_on") or ""
    desc = (
        f"Confidence shown against how often the answer was right, {total} answers"
        + (f" measured on {where}" if where else "")
        + ". "
        + " ".join(parts)
        + " On the dashed diagonal, confidence and accuracy agree."
    )
    return _svg(width=width, height=height, chart_id=chart_id, title=title, desc=desc, body=body)


def _bin_words(b: dict) -> str:
    n, right = int(b["n"]), int(b["right"])
    return (
        f"Confidence {_pct(float(b['low']))}–{_pct(float(b['high']))}: {right} of {n} "
        f"right ({right / n:.0%}), mean confidence {float(b['confidence']):.0%}."
    )


def _axes(plot: _Plot) -> str:
    out = [
        f'<rect class="chart-frame" x="{plot.left}" y="{plot.top}" width="{plot.size}" '
        f'height="{plot.size}" fill="none" stroke="{MUTED}" stroke-width="1"/>'
    ]
    for tick in (0.0, 0.25, 0.5, 0.75, 1.0):
        out.append(
            _text(plot.x(tick), plot.y(0) + 14, _pct(tick), cls="chart-tick", size=10)
            + _text(
                plot.left - 5, plot.y(tick) + 3, _pct(tick), cls="chart-tick", anchor="end", size=10
            )
        )
    out.append(
        f'<line class="chart-diagonal" x1="{plot.x(0):.1f}" y1="{plot.y(0):.1f}" '
        f'x2="{plot.x(1):.1f}" y2="{plot.y(1):.1f}" stroke="{MUTED}" stroke-width="1.2" '
        'stroke-dasharray="5 4"/>'
    )
    out.append(_text(plot.x(0.5), plot.y(0) + 32, "Confidence shown", size=11))
    out.append(
        _text(
            12,
            plot.y(0.5),
            "How often right",
            size=11,
            extra=f' transform="rotate(-90 12 {plot.y(0.5):.1f})"',
        )
    )
    return "".join(out)


# -- figures side by side --------------------------------------------------------------


@dataclass(frozen=True)
class _Point:
    number: int
    name: str
    value: float
    low: float | None
    high: float | None
    n: int | None
    thin: bool
    served: bool


def figure_interval(figure: dict) -> tuple[float, float] | None:
    """The 95% interval of a stored share, as figure_text prints it."""
    if figure.get("low") is not None and figure.get("high") is not None:
        return float(figure["low"]), float(figure["high"])
    n = figure.get("n")
    if figure.get("interval") and n:
        k = figure.get("k")
        share = Share(int(k), int(n)) if k is not None else Share.of(float(figure["value"]), n)
        return share.interval()
    return None


def chart_key(versions: Sequence) -> str | None:
    """The figure to chart: top-1 accuracy when any version has it, else the
    first share any version has (the look-alike's figures are others)."""
    keys = [f["key"] for v in versions for f in figures_of(v.metrics) if is_share(f)]
    if "accuracy" in keys:
        return "accuracy"
    return keys[0] if keys else None


def figures_chart(versions: Sequence, *, chart_id: str, served_id: int | None = None) -> str:
    """One share of every version (oldest first) as a point with its 95%
    interval; the served version is marked, and a figure counted on fewer
    than FEW_PHOTOS photos is drawn hollow and said to be too few."""
    key = chart_key(versions)
    points: list[_Point] = []
    label = "Right answer"
    for version in sorted(versions, key=lambda v: v.number):
        figure = next((f for f in figures_of(version.metrics) if f["key"] == key), None)
        if figure is None or figure.get("value") is None:
            continue
        label = figure.get("label") or label
        interval = figure_interval(figure)
        points.append(
            _Point(
                number=version.number,
                name=version.name,
                value=float(figure["value"]),
                low=interval[0] if interval else None,
                high=interval[1] if interval else None,
                n=figure.get("n"),
                thin=is_thin(figure),
                served=version.pk == served_id,
            )
        )
    title = f"{label}, per version, with 95% intervals"
    left, right_pad, row, top = 250, 170, 26, 26
    plot_width = 400
    width = left + plot_width + right_pad
    if not points:
        height = 60
        desc = "No version has been measured on labelled photos yet."
        return _svg(
            width=width,
            height=height,
            chart_id=chart_id,
            title=title,
            desc=desc,
            body=[_text(width / 2, 34, desc, cls="chart-empty")],
        )
    # The axis spans the figures worth reading: one counted on too few photos
    # (a wide interval) would squeeze the others into a few pixels; it is
    # drawn clipped at the edge instead, its value in words beside it.
    trusted = [p for p in points if not p.thin] or points
    lows = [p.low if p.low is not None else p.value for p in trusted]
    floor = max(0.0, math.floor(min(lows) * 10) / 10)
    span = 1.0 - floor or 1.0
    height = top + row * len(points) + 34

    def x(value: float) -> float:
        return left + (min(max(value, floor), 1.0) - floor) / span * plot_width

    body = []
    tenths = round(span * 10)  # grid lines every 2, 5, 10 or 20 points
    steps = {1: 5, 2: 4}.get(tenths, min(tenths, 5) if tenths != 0 else 4)
    for i in range(steps + 1):
        tick = floor + span * i / steps
        body.append(
            f'<line class="chart-grid" x1="{x(tick):.1f}" y1="{top - 6}" x2="{x(tick):.1f}" '
            f'y2="{height - 28}" stroke="{MUTED}" stroke-opacity="0.3"/>'
            + _text(x(tick), height - 14, f"{tick * 100:.0f}%", cls="chart-tick", size=10)
        )
    words = []
    for i, p in enumerate(points):
        y = top + row * i + row / 2
        cls = "chart-row served" if p.served else "chart-row"
        name = p.name if len(p.name) <= 28 else p.name[:27] + "…"
        body.append(f'<g class="{cls}">')
        body.append(
            _text(
                left - 10,
                y + 4,
                f"v{p.number} · {name}",
                anchor="end",
                size=12,
                extra=' font-weight="bold"' if p.served else "",
            )
        )
        colour = WARN if p.thin else ACCENT
        if p.low is not None and p.high is not None:
            body.append(
                f'<line class="chart-whisker" x1="{x(p.low):.1f}" y1="{y:.1f}" '
                f'x2="{x(p.high):.1f}" y2="{y:.1f}" stroke="{colour}" stroke-width="2"/>'
                f'<line class="chart-whisker" x1="{x(p.low):.1f}" y1="{y - 5:.1f}" '
                f'x2="{x(p.low):.1f}" y2="{y + 5:.1f}" stroke="{colour}" stroke-width="2"/>'
                f'<line class="chart-whisker" x1="{x(p.high):.1f}" y1="{y - 5:.1f}" '
                f'x2="{x(p.high):.1f}" y2="{y + 5:.1f}" stroke="{colour}" stroke-width="2"/>'
            )
        fill = "none" if p.thin else colour
        if p.value < floor:  # off the axis: an arrow at its left edge
            body.append(
                f'<path class="chart-offscale" d="M {x(floor) - 2:.1f} {y:.1f} l 9 -6 v 12 z" '
                f'fill="{fill}" stroke="{colour}" stroke-width="2"/>'
            )
        else:
            body.append(
                f'<circle class="chart-point{" thin" if p.thin else ""}" cx="{x(p.value):.1f}" '
                f'cy="{y:.1f}" r="5" fill="{fill}" stroke="{colour}" stroke-width="2"/>'
            )
        size = f"n={p.n}" if p.n else "n not recorded"
        note = f"{p.value:.1%} ({size}{', too few' if p.thin else ''})"
        body.append(_text(left + plot_width + 10, y + 4, note, anchor="start", size=11))
        body.append("</g>")
        words.append(_point_words(p))
    desc = " ".join(words)
    return _svg(width=width, height=height, chart_id=chart_id, title=title, desc=desc, body=body)


def _point_words(p: _Point) -> str:
    text = f"v{p.number} {p.name}{' (served)' if p.served else ''}: {p.value:.1%}"
    if p.low is not None and p.high is not None:
        text += f", 95% interval {p.low:.1%} to {p.high:.1%}"
    text += f", on {p.n} photos" if p.n else ", sample size not recorded"
    if p.thin:
        text += ", too few to trust"
    return text + "."
