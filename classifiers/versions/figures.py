"""Reading a version's stored figures (``metrics``), for pages, charts and
the promotion review.

A version's ``metrics["figures"]`` (classifiers/inference/evaluation.py
describes the shape) is read as it is, so a demo kind with other figures
(the look-alike's) needs no change here. Versions measured before figures
were stored have only scalar keys: they are rebuilt with "sample size not
recorded" rather than as if they had none.
"""

from __future__ import annotations

# A share counted on fewer photos than this is shown marked "too few to
# trust": at 100 photos the 95% interval of a 90% share is already 83-95%.
FEW_PHOTOS = 100

# The scalar keys of older metrics, in the order a model card lists them.
LEGACY = (
    ("accuracy", "Accuracy"),
    ("top3", "Top-3 accuracy"),
    ("top3_accuracy", "Top-3 accuracy"),
    ("ece", "Calibration error (ECE)"),
    ("false_rejection_rate", "Targets turned away"),
    ("rejection_rate", "Other photos refused"),
    ("no_face_rate", "No face found"),
    ("latency_p50_ms", "Time to answer one photo (median)"),
)


def figures_of(metrics: dict | None) -> list[dict]:
    """The figures of a version's metrics, stored or rebuilt from scalar keys."""
    if not metrics:
        return []
    if metrics.get("figures"):
        return [f for f in metrics["figures"] if isinstance(f, dict) and "key" in f]
    rebuilt, seen = [], set()
    for key, label in LEGACY:
        value = metrics.get(key)
        if value is None or label in seen:
            continue
        seen.add(label)
        rebuilt.append(
            {
                "key": key,
                "label": label,
                "value": value,
                "n": None,
                "format": "ms" if key.endswith("_ms") else "percent",
                "measured_on": metrics.get("evaluated_on", ""),
            }
        )
    return rebuilt


def is_share(figure: dict | None) -> bool:
    """A share of photos (accuracy, refusals...), not a time or a count."""
    return bool(figure) and figure.get("format", "percent") == "percent"


def is_thin(figure: dict | None) -> bool:
    """A share counted on so few photos that it says little."""
    n = (figure or {}).get("n")
    return is_share(figure) and figure.get("value") is not None and n is not None and n < FEW_PHOTOS


def thin_warning(figure: dict | None) -> str:
    """'5 photos — too few to trust', or '' for a figure counted on enough."""
    if not is_thin(figure):
        return ""
    n = figure["n"]
    unit = figure.get("unit") or "photos"
    if n == 1 and unit.endswith("s"):
        unit = unit[:-1]
    return f"{n} {unit} — too few to trust"
