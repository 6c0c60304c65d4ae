"""One table: every demo and model version on ../shared/data.

    .venv/bin/python bench/accuracy.py

ImageNet demos: measured on pets/ with each version's committed calibration
(fitted on calibration/ by bench/calibrate.py). Look-alike: the train photos
of faces-5celeb and the first half of each faces-lfw10 person are enrolled,
the rest identified (bench/faces_accuracy.py); its non-targets are the
animal photos of pets/, which must get "no face found".

Columns: top-1 and top-3 accuracy, expected calibration error of the shown
confidence, share of non-targets rejected, share of targets wrongly
rejected, images/second for one worker on single uploads.
"""

from __future__ import annotations

import _setup  # noqa: F401  (Django set-up)
import faces_accuracy
import imagenet_eval
from PIL import Image

from classifiers.catalog import DEMOS, version_spec
from classifiers.inference.faces import (
    FaceLookalikePipeline,
    Gallery,
    load_face_model,
    package_model_path,
)


def imagenet_row(demo: dict, spec: dict) -> dict:
    return {**imagenet_eval.evaluate(demo, spec), **imagenet_eval.speed(demo, spec)}


def lookalike_row(demo: dict, spec: dict) -> dict:
    metrics = faces_accuracy.evaluate_lookalike(demo, spec)
    model = load_face_model(package_model_path(spec["artifact"]))
    pipeline = FaceLookalikePipeline(spec=spec["input_spec"], gallery=Gallery.empty())
    animals = [Image.open(r["file"]).convert("RGB") for r in imagenet_eval.rows("pets")]
    rejected = [pipeline.run(model, image).status == "rejected" for image in animals]
    return {
        "accuracy": metrics["accuracy"],
        "top3": metrics["top3_accuracy"],
        "ece": None,
        "rejection_rate": round(sum(rejected) / len(rejected), 4),
        "false_rejection_rate": metrics["no_face_rate"],
        "images_per_second": metrics["images_per_second"],
    }


ROWS = {"imagenet-subset": imagenet_row, "face-lookalike": lookalike_row}


def _pct(value: float | None) -> str:
    return "—" if value is None else f"{value:.1%}"


def main() -> None:
    if not (_setup.SHARED_DATA / "pets").exists():
        raise SystemExit(f"{_setup.SHARED_DATA} not found: the benchmark needs ../shared/data")
    header = (
        f"{'demo':<20}{'version':<34}{'top-1':>7}{'top-3':>7}{'ECE':>7}"
        f"{'rej. others':>12}{'rej. targets':>13}{'img/s':>7}"
    )
    lines = [header, "-" * len(header)]
    for demo in DEMOS:
        for filename in demo["versions"]:
            spec = version_spec(filename)
            m = ROWS[demo["kind"]](demo, spec)
            served = " *" if spec.get("default") else ""
            name = f"v{spec['number']} {spec['name']}{served}"
            lines.append(
                f"{demo['slug']:<20}{name:<34}{_pct(m['accuracy']):>7}{_pct(m['top3']):>7}"
                f"{_pct(m['ece']):>7}{_pct(m['rejection_rate']):>12}"
                f"{_pct(m['false_rejection_rate']):>13}{m['images_per_second']:>7}"
            )
    lines.append("* the version served by default (bench/calibrate.py picks it)")
    print("\n".join(lines))


if __name__ == "__main__":
    main()
