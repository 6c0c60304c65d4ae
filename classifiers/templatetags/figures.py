"""How a version's measured figures are shown: each with its sample size,
its 95% interval and the set it was measured on, in words.

A version's ``metrics["figures"]`` (classifiers/inference/evaluation.py
describes the shape) is shown as it is, so a demo kind with other figures
(the look-alike's) needs no template change. Versions measured before
figures were stored have only scalar keys: they are shown with "sample size
not recorded" rather than as if they had none.
"""

from __future__ import annotations

import json
import re

from django import template

from classifiers.inference.stats import Share
from classifiers.versions.figures import figures_of, is_share
from classifiers.versions.figures import thin_warning as _thin_warning

register = template.Library()

register.filter("figures_of", figures_of)


@register.filter
def thin_warning(figure: dict | None) -> str:
    """'5 photos — too few to trust' beside a figure counted on few photos."""
    return _thin_warning(figure)


# A file-system path in a description ("shared/data/pets", "/srv/eval/pets.zip"):
# rooted (/, ./, ../) or of three parts or more, so "cats/dogs" and "and/or" stay.
_PATH = re.compile(
    r"(?<![\w./-])(?:(?:\.{1,2})?/(?:[\w.-]+/)*|[\w.-]+/[\w.-]+/(?:[\w.-]+/)*)"
    r"([\w-]+(?:\.[\w-]+)*?)(?:\.(?:zip|tar\.gz|tgz|tar|csv))?(?![\w/-])"
)


@register.filter
def plain_source(text: str) -> str:
    """A description of photos for visitors: a path in it is named by its last
    part ("shared/data/pets" -> "pets"), so no server path shows on a card."""
    return _PATH.sub(lambda m: m.group(1), str(text or ""))


@register.filter
def headline(metrics: dict | None) -> dict | None:
    """The one figure a gallery card has room for: accuracy, else the first."""
    found = figures_of(metrics)
    return next((f for f in found if f["key"] == "accuracy"), found[0] if found else None)


@register.filter
def figure_for(metrics: dict | None, key: str) -> dict | None:
    return next((f for f in figures_of(metrics) if f["key"] == key), None)


def _number(value: float, kind: str) -> str:
    if kind == "percent":
        return f"{value:.1%}"
    if kind == "ms":
        return f"{value:g} ms"
    return f"{value:g}"


@register.filter
def figure_text(figure: dict | None) -> str:
    """'93.4% (91.4–94.9%, 800 photos)'; '—' when there is nothing to show."""
    if not figure or figure.get("value") is None:
        return "—"
    value, n = figure["value"], figure.get("n")
    kind = figure.get("format", "percent")
    unit = figure.get("unit") or "photos"
    if not n:
        return f"{_number(value, kind)} (sample size not recorded)"
    if kind == "percent" and figure.get("low") is not None and figure.get("high") is not None:
        low, high = figure["low"], figure["high"]
        return f"{value:.1%} ({low * 100:.1f}–{high * 100:.1f}%, {n} {unit})"
    if kind == "percent" and figure.get("interval"):
        k = figure.get("k")
        share = Share(k, n) if k is not None else Share.of(value, n)
        return share.describe(unit)
    if kind == "ms":
        return f"{_number(value, kind)} (median of {n} {unit})"
    return f"{_number(value, kind)} ({n} {unit})"


def _split(figure: dict | None) -> tuple[str, str]:
    text = figure_text(figure)
    value, _, detail = text.partition(" (")
    return value, detail[:-1] if detail.endswith(")") else detail


@register.filter
def figure_value(figure: dict | None) -> str:
    """'93.4%' of '93.4% (91.4–94.9%, 800 photos)': a narrow table's first line."""
    return _split(figure)[0]


@register.filter
def figure_detail(figure: dict | None) -> str:
    """'91.4–94.9%, 800 photos': its interval and sample size, the second line."""
    return _split(figure)[1]


@register.simple_tag
def figure_columns(versions) -> list[dict]:
    """Every figure any of these versions has, once: the shares first (how often
    right, then the rest), times last, each in the order met from the oldest
    version (a new upload measured only for speed does not reorder them)."""
    columns: dict[str, tuple[bool, str]] = {}
    for version in sorted(versions, key=lambda v: v.number):
        for figure in figures_of(version.metrics):
            columns.setdefault(figure["key"], (not is_share(figure), figure["label"]))
    order = sorted(columns, key=lambda key: columns[key][0])  # stable: first met first
    return [{"key": key, "label": columns[key][1]} for key in order]


@register.simple_tag
def measured_sets(versions) -> list[dict]:
    """The sets the versions' figures were measured on, each with the versions."""
    sets: dict[str, list[int]] = {}
    for version in versions:
        for figure in figures_of(version.metrics):
            where = figure.get("measured_on") or ""
            if where and version.number not in sets.setdefault(where, []):
                sets[where].append(version.number)
    return [{"measured_on": where, "versions": numbers} for where, numbers in sets.items()]


@register.filter
def as_json(value) -> str:
    return json.dumps(value, indent=2, sort_keys=True, ensure_ascii=False)
