"""Evaluation of the ImageNet demos (cats-vs-dogs, dog-breeds), shared by
bench/calibrate.py (fits and writes the specs) and bench/accuracy.py (prints
the table). Everything goes through the pipeline class the worker runs.
"""

from __future__ import annotations

import csv
import statistics
import time
from functools import cache
from pathlib import Path

import _setup
import numpy as np
from PIL import Image

from classifiers.catalog import imagenet_labels
from classifiers.inference import evaluation
from classifiers.inference.imagenet import ImagenetSubsetPipeline

CAT, DOG = slice(281, 286), slice(151, 269)
POODLES = (265, 266, 267)  # the pets README: "poodle" may be any of the three
LATENCY_PHOTO = _setup.REPO / "static" / "classifiers" / "examples" / "golden-retriever.jpg"
KEEP = 0.95


def rows(folder: str) -> list[dict]:
    base = _setup.SHARED_DATA / folder
    with (base / "labels.csv").open() as f:
        return [{**r, "file": base / r["path"]} for r in csv.DictReader(f)]


@cache
def _dog_synonyms() -> dict[int, list[str]]:
    """ImageNet dog class -> the names pets labels may use (dognames.txt line k
    is class 151 + k, with its WordNet synonyms)."""
    lines = (_setup.SHARED_DATA / "pets" / "dognames.txt").read_text().splitlines()
    return {151 + k: [s.strip() for s in lines[k].split(",")] for k in range(118)}


def is_breed(label: str, imagenet_index: int) -> bool:
    if label == "poodle":
        return imagenet_index in POODLES
    return label in _dog_synonyms().get(imagenet_index, [])


def pipeline(demo: dict, spec: dict, calibration: dict | None = None) -> ImagenetSubsetPipeline:
    return ImagenetSubsetPipeline(
        labels=imagenet_labels(),
        spec=spec["input_spec"],
        config=demo["config"],
        calibration=spec.get("calibration", {}) if calibration is None else calibration,
    )


_models: dict[str, object] = {}
_probabilities: dict[tuple[str, str], np.ndarray] = {}


def model(spec: dict):
    if spec["artifact"] not in _models:
        path = Path(_setup.settings.ML_MODELS_DIR) / spec["artifact"]
        _models[spec["artifact"]] = ImagenetSubsetPipeline.load_model(path)
    return _models[spec["artifact"]]


def probabilities(demo: dict, spec: dict, folder: str) -> np.ndarray:
    """Model outputs for every photo of a folder (once per artifact: the two
    demos share their networks)."""
    key = (spec["artifact"], folder)
    if key not in _probabilities:
        p = pipeline(demo, spec)
        batch = np.concatenate(
            [p.preprocess(Image.open(r["file"]).convert("RGB")) for r in rows(folder)]
        )
        _probabilities[key] = model(spec).model.predict(batch, batch_size=16, verbose=0)
    return _probabilities[key]


def fit(demo: dict, spec: dict) -> dict:
    """Threshold and calibration map for one demo version, on calibration/."""
    truth = [r["cat_dog_neither"] for r in rows("calibration")]
    pl = pipeline(demo, spec, calibration={})
    targets = sum(evaluation.is_target(t) for t in truth)
    return evaluation.fit_calibration(
        pl,
        probabilities(demo, spec, "calibration"),
        truth if not pl.within else [t if t != "cat" else "neither" for t in truth],
        described=f"{targets} cats and dogs, {len(truth) - targets} other photos "
        "of shared/data/calibration",
    )


def evaluate(demo: dict, spec: dict, calibration: dict | None = None) -> dict:
    """Figures on shared/data/pets, with the version's calibration."""
    pl = pipeline(demo, spec, calibration)
    pets = rows("pets")
    if pl.within:
        # A cat is a non-target of the dog demo; breeds match by WordNet synonyms.
        truth = [r["label"] if r["cat_dog_neither"] == "dog" else "neither" for r in pets]
        name_to_index = {pl._name(i): i for i in range(151, 269)}

        def matches(label: str, answer: str) -> bool:
            return is_breed(label, name_to_index[answer])
    else:
        truth = [r["cat_dog_neither"] for r in pets]
        matches = evaluation.same_answer
    targets = sum(evaluation.is_target(t) for t in truth)
    return evaluation.measure(
        pl,
        probabilities(demo, spec, "pets"),
        truth,
        matches=matches,
        described=f"{targets} {'dogs' if pl.within else 'cats and dogs'} and "
        f"{len(truth) - targets} other animals of shared/data/pets",
    )


def speed(demo: dict, spec: dict, runs: int = 30) -> dict:
    """What one worker spends per photo: preprocess, predict with Grad-CAM,
    postprocess (single images, as uploads arrive)."""
    pl = pipeline(demo, spec)
    loaded = model(spec)
    image = Image.open(LATENCY_PHOTO).convert("RGB")
    for _ in range(3):
        pl.run(loaded, image)  # tracing and allocation happen on the first calls
    timings = []
    for _ in range(runs):
        started = time.perf_counter()
        pl.run(loaded, image)
        timings.append((time.perf_counter() - started) * 1000)
    p50 = statistics.median(timings)
    return {"latency_p50_ms": round(p50, 1), "images_per_second": round(1000 / p50, 1)}
