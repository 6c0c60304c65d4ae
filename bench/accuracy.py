"""Accuracy of each shipped demo version on ../shared/data, as one table.

    .venv/bin/python bench/accuracy.py [--write-specs]

Runs the same pipeline classes the worker runs. With --write-specs the
measured figures are stored in classifiers/specs/<slug>-v<N>.json, which
`setup_demos` shows on the model cards.
"""

import argparse
import csv
import json
import time

import _setup
from PIL import Image

from classifiers.catalog import DEMOS, SPECS_DIR, imagenet_labels, version_spec
from classifiers.inference.pipelines import PIPELINES
from classifiers.inference.runtime import load_keras_model


def pets_rows(targets: set[str]) -> list[dict]:
    with (_setup.SHARED_DATA / "pets" / "labels.csv").open() as f:
        return [r for r in csv.DictReader(f) if r["cat_dog_neither"] in targets]


def evaluate_cats_vs_dogs(demo: dict, spec: dict) -> dict:
    pipeline = PIPELINES[demo["kind"]](
        labels=imagenet_labels(), spec=spec["input_spec"], config=demo["config"]
    )
    model = load_keras_model(_setup.settings.ML_MODELS_DIR / spec["artifact"])
    rows = pets_rows({"cat", "dog"})
    images = [Image.open(_setup.SHARED_DATA / "pets" / r["path"]).convert("RGB") for r in rows]
    pipeline.postprocess(pipeline.predict(model, pipeline.preprocess(images[0])))  # warm-up
    correct = 0
    started = time.perf_counter()
    for row, image in zip(rows, images, strict=True):
        outcome = pipeline.postprocess(pipeline.predict(model, pipeline.preprocess(image)))
        correct += outcome.label == row["cat_dog_neither"]
    elapsed = time.perf_counter() - started
    return {
        "accuracy": round(correct / len(rows), 4),
        "evaluated_on": f"{len(rows)} cats and dogs of shared/data/pets",
        "images_per_second": round(len(rows) / elapsed, 1),
    }


EVALUATORS = {"cats-vs-dogs": evaluate_cats_vs_dogs}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--write-specs", action="store_true")
    args = parser.parse_args()
    if not (_setup.SHARED_DATA / "pets").exists():
        raise SystemExit(f"{_setup.SHARED_DATA} not found: the benchmark needs ../shared/data")
    print(f"{'demo':<22}{'version':<28}{'accuracy':>10}{'img/s':>8}  evaluated on")
    for demo in DEMOS:
        for filename in demo["versions"]:
            spec = version_spec(filename)
            metrics = EVALUATORS[demo["slug"]](demo, spec)
            name = f"v{spec['number']} {spec['name']}"
            print(
                f"{demo['slug']:<22}{name:<28}{metrics['accuracy']:>10.1%}"
                f"{metrics['images_per_second']:>8}  {metrics['evaluated_on']}"
            )
            if args.write_specs:
                spec["metrics"] = {**spec.get("metrics", {}), **metrics}
                (SPECS_DIR / filename).write_text(json.dumps(spec, indent=2) + "\n")


if __name__ == "__main__":
    main()
