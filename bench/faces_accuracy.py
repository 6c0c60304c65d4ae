"""Accuracy of the celebrity look-alike pipeline on held-back faces of ../shared/data.

    .venv/bin/python bench/faces_accuracy.py [--write-spec]

``evaluate_lookalike`` enrols the train photos of faces-5celeb and the first
half of each faces-lfw10 person (in labels.csv order) into one in-memory
gallery of 15 people, then identifies every other photo of them with the
pipeline class the worker runs (detect, align, embed, rank the gallery) and
prints top-1, top-3, the no-face rate and images per second. A held-back
photo where no face is found counts as a miss.

The score's logistic curve (threshold, slope: see faces.similarity) is
fitted on pairs of the enrolled photos only, never on the photos it is then
judged on; --write-spec stores the fit and the figures in
classifiers/specs/celebrity-lookalike-v1.json, which setup_demos shows.
"""

from __future__ import annotations

import argparse
import csv
import json
import time
from collections import defaultdict
from pathlib import Path

import _setup
import numpy as np

from classifiers.catalog import SPECS_DIR, version_spec
from classifiers.inference.faces import (
    FaceLookalikePipeline,
    Gallery,
    load_face_model,
    package_model_path,
)
from classifiers.inference.images import decode_upload

SPEC_FILE = "celebrity-lookalike-v1.json"


def _rows(folder: str) -> list[dict]:
    with (_setup.SHARED_DATA / folder / "labels.csv").open() as f:
        return [
            {**row, "file": _setup.SHARED_DATA / folder / row["path"]} for row in csv.DictReader(f)
        ]


def split_photos() -> tuple[list[tuple[Path, str]], list[tuple[Path, str]]]:
    """(enrolled, held back) photos as (path, identity)."""
    enrolled, held_back = [], []
    for row in _rows("faces-5celeb"):
        (enrolled if row["split"] == "train" else held_back).append((row["file"], row["identity"]))
    by_person: dict[str, list[Path]] = defaultdict(list)
    for row in _rows("faces-lfw10"):
        by_person[row["identity"]].append(row["file"])
    for person, files in by_person.items():
        half = len(files) // 2
        enrolled += [(f, person) for f in files[:half]]
        held_back += [(f, person) for f in files[half:]]
    return enrolled, held_back


def _image(path: Path):
    # The same decoding as an upload: EXIF rotation, RGB, at most 1024 px.
    return decode_upload(path.read_bytes(), max_bytes=10**9, max_pixels=10**9).image


def fit_similarity(vectors: np.ndarray, people: list[str]) -> tuple[float, float]:
    """Logistic regression of "same person" on the distance between two enrolled
    photos, with both kinds of pair weighted equally (there are far more pairs
    of strangers); returns (threshold where p = 0.5, slope)."""
    i, j = np.triu_indices(len(people), k=1)
    distance = np.linalg.norm(vectors[i] - vectors[j], axis=1)
    same = np.array([people[a] == people[b] for a, b in zip(i, j, strict=True)], dtype=float)
    weight = np.where(same == 1, 0.5 / same.sum(), 0.5 / (1 - same).sum())
    x = np.stack([np.ones_like(distance), distance], axis=1)
    beta = np.zeros(2)
    for _ in range(50):  # Newton's method; the problem is convex and tiny
        p = 1 / (1 + np.exp(-(x @ beta)))
        gradient = x.T @ (weight * (same - p))
        hessian = (x * (weight * p * (1 - p))[:, None]).T @ x
        beta += np.linalg.solve(hessian, gradient)
    b0, b1 = beta  # p = sigmoid(b0 + b1 d) = 1 / (1 + exp(slope (d - threshold)))
    return float(-b0 / b1), float(-b1)


def evaluate_lookalike(demo: dict | None = None, spec: dict | None = None) -> dict:
    """Top-1/top-3 identification of held-back faces; prints and returns the metrics
    (accuracy is top-1), as bench/accuracy.py's evaluators do (``demo`` is unused)."""
    return fit_and_evaluate(spec or version_spec(SPEC_FILE))[1]


def fit_and_evaluate(spec: dict) -> tuple[dict, dict]:
    """(the input_spec with the score's fitted threshold and slope, the metrics)."""
    model = load_face_model(package_model_path(spec["artifact"]))
    embedder = FaceLookalikePipeline(spec=spec["input_spec"], gallery=Gallery.empty())
    enrolled, held_back = split_photos()

    vectors, people, skipped = [], [], 0
    for path, person in enrolled:
        found = embedder.predict(model, embedder.preprocess(_image(path)))
        if found.vector is None:
            skipped += 1
            continue
        vectors.append(found.vector)
        people.append(person)
    matrix = np.stack(vectors)
    threshold, slope = fit_similarity(matrix, people)
    input_spec = {**spec["input_spec"], "threshold": round(threshold, 4), "slope": round(slope, 2)}
    gallery = Gallery(vectors=matrix, people=people, photo_urls=[""] * len(people))
    pipeline = FaceLookalikePipeline(spec=input_spec, gallery=gallery)

    images = [(_image(path), person) for path, person in held_back]
    pipeline.run(model, images[0][0])  # warm-up, not timed
    top1 = top3 = no_face = same_person = 0
    started = time.perf_counter()
    for image, person in images:
        outcome = pipeline.run(model, image)
        if outcome.status == "rejected":
            no_face += 1
            continue
        names = [item["label"] for item in outcome.top]
        top1 += names[0] == person
        top3 += person in names[:3]
        same_person += bool(outcome.details["same_person"]) and names[0] == person
    elapsed = time.perf_counter() - started

    n = len(images)
    metrics = {
        "accuracy": round(top1 / n, 4),
        "top3_accuracy": round(top3 / n, 4),
        "no_face_rate": round(no_face / n, 4),
        "same_person_rate": round(same_person / n, 4),
        "images_per_second": round(n / elapsed, 1),
        "evaluated_on": f"{n} held-back faces of 15 people (shared/data faces-5celeb, faces-lfw10)",
    }
    print(f"gallery: {len(people)} photos of {len(set(people))} people ({skipped} without a face)")
    print(f"score fitted on {len(people) * (len(people) - 1) // 2} pairs of gallery photos:")
    print(f"  threshold {threshold:.4f}, slope {slope:.2f}")
    print(f"held back: {n} photos (faces-5celeb val, second half of each faces-lfw10 person)")
    print(f"  top-1 {metrics['accuracy']:.1%}, top-3 {metrics['top3_accuracy']:.1%}")
    print(f"  no face found {metrics['no_face_rate']:.1%}")
    print(f"  right and under the same-person threshold {metrics['same_person_rate']:.1%}")
    print(f"  {metrics['images_per_second']} images/second (detect, align, embed, rank)")
    return input_spec, metrics


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--write-spec", action="store_true")
    args = parser.parse_args()
    if not (_setup.SHARED_DATA / "faces-lfw10").exists():
        raise SystemExit(f"{_setup.SHARED_DATA} not found: the benchmark needs ../shared/data")
    spec = version_spec(SPEC_FILE)
    input_spec, metrics = fit_and_evaluate(spec)
    if args.write_spec:
        spec["input_spec"] = input_spec
        spec["metrics"] = {**spec.get("metrics", {}), **metrics}
        (SPECS_DIR / SPEC_FILE).write_text(json.dumps(spec, indent=2) + "\n")
        print(f"wrote {SPECS_DIR / SPEC_FILE}")


if __name__ == "__main__":
    main()
