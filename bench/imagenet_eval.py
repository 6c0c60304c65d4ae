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
from classifiers.inference.calibration import (
    expected_calibration_error,
    fit_binary_calibration,
    keep_threshold,
    log_odds,
)
from classifiers.inference.pipelines import ImagenetSubsetPipeline

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
    labels = np.array([r["cat_dog_neither"] for r in rows("calibration")])
    p = probabilities(demo, spec, "calibration")
    p_cat, p_dog = p[:, CAT].sum(1), p[:, DOG].sum(1)
    if demo["config"].get("rank_within"):
        dogs = labels == "dog"
        threshold = keep_threshold(p_dog[dogs], KEEP)
        mapping = fit_binary_calibration(log_odds(p_dog, 1 - p_dog), dogs)
        described = f"{dogs.sum()} dogs and {(~dogs).sum()} other photos of shared/data/calibration"
    else:
        pets = np.isin(labels, ["cat", "dog"])
        evidence = p_cat + p_dog
        threshold = keep_threshold(evidence[pets], KEEP)
        answered = pets & (evidence >= threshold)
        mapping = fit_binary_calibration(
            log_odds(p_cat[answered], p_dog[answered]), labels[answered] == "cat"
        )
        described = f"{pets.sum()} cats and dogs of shared/data/calibration"
    return {
        "threshold": round(threshold, 5),
        "map": mapping.as_dict(),
        "keeps": KEEP,
        "fitted_on": described,
    }


def evaluate(demo: dict, spec: dict, calibration: dict | None = None) -> dict:
    """Figures on shared/data/pets, with the version's calibration."""
    pl = pipeline(demo, spec, calibration)
    pets = rows("pets")
    outcomes = [pl.postprocess(row[None]) for row in probabilities(demo, spec, "pets")]
    truth = [r["cat_dog_neither"] for r in pets]
    within = demo["config"].get("rank_within")
    target = ["dog"] if within else ["cat", "dog"]
    targets = [i for i, t in enumerate(truth) if t in target]
    others = [i for i, t in enumerate(truth) if t not in target]
    rejected = [o.status == "rejected" for o in outcomes]
    if within:
        name_to_index = {pl._name(i): i for i in range(151, 269)}

        def rank_hits(i: int, k: int) -> bool:
            top = outcomes[i].top[:k] if outcomes[i].status == "done" else []
            return any(is_breed(pets[i]["label"], name_to_index[t["label"]]) for t in top)

        top1 = [rank_hits(i, 1) for i in targets]
        top3 = [rank_hits(i, 3) for i in targets]
    else:
        top1 = [outcomes[i].status == "done" and outcomes[i].label == truth[i] for i in targets]
        top3 = top1
    answered = [i for i in targets if not rejected[i]]
    ece = expected_calibration_error(
        [outcomes[i].score for i in answered],
        [top1[targets.index(i)] for i in answered],
    )
    return {
        "accuracy": round(float(np.mean(top1)), 4),
        "top3": round(float(np.mean(top3)), 4),
        "ece": round(ece, 4),
        "rejection_rate": round(float(np.mean([rejected[i] for i in others])), 4),
        "false_rejection_rate": round(float(np.mean([rejected[i] for i in targets])), 4),
        "evaluated_on": (
            f"{len(targets)} {'dogs' if within else 'cats and dogs'} and "
            f"{len(others)} other animals of shared/data/pets"
        ),
    }


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
