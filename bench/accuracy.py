"""One table per demo: every version's figures, each with its sample size and
95% interval, written as the site shows them (classifiers.templatetags.figures).

    .venv/bin/python bench/accuracy.py

ImageNet demos (bench/imagenet_eval.py): each version with its committed
calibration (bench/calibrate.py fits it on calibration/ and half of
breeds-kaggle/), measured on photos never used for fitting: dog breeds on
the other half of breeds-kaggle/, cats vs dogs on catsdogs-kaggle/, "others
refused" on calibration/'s 150 other photos by 5-fold cross-fitting, "cats
refused" on catsdogs-kaggle/'s cats. A refused real target counts as wrong.

Look-alike (bench/faces_accuracy.py): named first, told "This is X",
strangers told "You look most like X", each a share of people held out by a
fixed rule; images/second of the whole pipeline.
"""

from __future__ import annotations

import _setup  # noqa: F401  (Django set-up)
import faces_accuracy
import imagenet_eval

from classifiers.catalog import DEMOS, version_spec
from classifiers.inference.stats import Share
from classifiers.templatetags.figures import figure_text

SHORT = {
    "accuracy": "top-1",
    "top3": "top-3",
    "ece": "ECE",
    "false_rejection_rate": "targets turned away",
    "rejection_rate": "others refused",
    "cats_refused": "cats refused",
    "latency_p50_ms": "time per photo",
}


def imagenet_figures(demo: dict, spec: dict) -> list[dict]:
    metrics = imagenet_eval.evaluate(demo, spec)
    metrics.update(imagenet_eval.speed(demo, spec))
    return [*metrics["figures"], imagenet_eval.latency_figure(metrics)]


def lookalike_figures(demo: dict, spec: dict) -> list[dict]:
    found = faces_accuracy.evaluate_lookalike(spec)  # label -> Share, images_per_second
    out = [
        {
            "key": key,
            "label": faces_accuracy.LABELS.get(key, key),
            "value": value.value,
            "k": value.k,
            "n": value.n,
            "unit": "people",
            "interval": True,
            "measured_on": found.get("evaluated_on", "held-out LFW people"),
        }
        for key, value in found.items()
        if isinstance(value, Share)
    ]
    out.append(
        {
            "key": "images_per_second",
            "label": "images/second",
            "value": found["images_per_second"],
            "format": "number",
            "n": None,
        }
    )
    return out


FIGURES = {"imagenet-subset": imagenet_figures, "face-lookalike": lookalike_figures}


def cell(figure: dict | None) -> str:
    """'97.0% (95.6–98.0) n=800': the site's figure (figure_text) made to fit a column."""
    if figure is None or figure.get("value") is None:
        return "—"
    kind = figure.get("format", "percent")
    if kind == "number":
        return f"{figure['value']:g}"
    if kind == "ms":
        return f"{figure['value']:.0f} ms"
    text = figure_text(figure)  # "97.0% (95.6–98.0%, 800 photos)"
    if not figure.get("n"):
        return text
    value, _, rest = text.partition(" (")
    interval = rest.split(",")[0].rstrip("%")
    return f"{value} ({interval}) n={figure['n']}"


def table(demo: dict) -> list[str]:
    rows = []
    for filename in demo["versions"]:
        spec = version_spec(filename)
        served = " *" if spec.get("default") else ""
        rows.append(
            (f"v{spec['number']} {spec['name']}{served}", FIGURES[demo["kind"]](demo, spec))
        )
        if spec.get("default") and demo["kind"] == "imagenet-subset":
            # the network it wraps, read the plain way: the demo must do at least as well
            alone = f"  v{spec['number']}'s network alone, never refusing"
            rows.append((alone, imagenet_eval.plain(demo, spec)))
    columns: dict[str, str] = {}
    for _, figures in rows:
        for f in figures:
            columns.setdefault(f["key"], SHORT.get(f["key"], f["label"]))
    cells = [
        [cell(next((f for f in figs if f["key"] == k), None)) for k in columns] for _, figs in rows
    ]
    widths = [max(len(h), *(len(c[i]) for c in cells)) for i, h in enumerate(columns.values())]
    name_width = max(len(demo["slug"]), *(len(name) for name, _ in rows)) + 2
    header = f"{demo['slug']:<{name_width}}" + "  ".join(
        f"{h:<{w}}" for h, w in zip(columns.values(), widths, strict=True)
    )
    lines = [header, "-" * len(header)]
    for (name, _), row in zip(rows, cells, strict=True):
        lines.append(
            f"{name:<{name_width}}"
            + "  ".join(f"{c:<{w}}" for c, w in zip(row, widths, strict=True))
        )
    sets: dict[str, list[str]] = {}
    for _, figures in rows:
        for f in figures:
            if f.get("measured_on") and columns[f["key"]] not in sets.setdefault(
                f["measured_on"], []
            ):
                sets[f["measured_on"]].append(columns[f["key"]])
    for where, names in sets.items():
        lines.append(f"  {', '.join(names)}: {where}")
    return lines


def main() -> None:
    if not (_setup.SHARED_DATA / "breeds-kaggle").exists():
        raise SystemExit(f"{_setup.SHARED_DATA} not found: the benchmark needs ../shared/data")
    lines = []
    for demo in DEMOS:
        lines += [*table(demo), ""]
    lines.append(
        "Each cell: the share (its 95% interval: Wilson's, or a bootstrap for the ECE) "
        "n=photos counted.\n"
        "* the version served by default (bench/calibrate.py picks it on the fit photos only)"
    )
    print("\n".join(lines))


if __name__ == "__main__":
    main()
