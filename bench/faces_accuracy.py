"""The celebrity look-alike at the size it is served: fit and measure its score.

    .venv/bin/python bench/faces_accuracy.py [--write-spec]

Works on the gallery that ships with the site (classifiers/gallery/data/lfw:
every face of ../shared/data/celebrities-lfw, embedded by the pipeline's own
detection, alignment and network) and on LFW's training pairs
(celebrities-lfw/pairsDevTrain.txt).

Open-set trials, by a fixed rule (sha256 of the person's name):
- the people with 4 or more photos: 3 photos enrolled, the 4th is the probe;
  the first 100 of them (in hash order) are measured, the others fit;
- strangers: people with fewer photos whose hash ends in 0 (a tenth) are
  left out of the gallery and probed with their first photo; alternate ones
  fit and measure;
- the gallery: everyone else with all their photos (about 3,650 people).

The score (classifiers.inference.faces.chances: person i weighs
exp(c0 - ln N + s d_i), a stranger 1) is fitted by maximum likelihood on the
pairs (a gallery of one) and the fitting trials together; the figures come
from the measuring trials only. "This is X" is said at a chance of one half
or more. With --write-spec the fit and the figures go into
classifiers/specs/celebrity-lookalike-v1.json (shown on the model card).
"""

from __future__ import annotations

import argparse
import hashlib
import json
import time
from collections import defaultdict
from dataclasses import dataclass

import _setup
import numpy as np

from classifiers.catalog import SPECS_DIR, version_spec
from classifiers.gallery import shipped
from classifiers.inference.faces import chances
from classifiers.inference.stats import Share

SPEC_FILE = "celebrity-lookalike-v1.json"
MEASURED_PEOPLE = 100
PAIRS = "celebrities-lfw/pairsDevTrain.txt"


def _hash(name: str) -> int:
    return int.from_bytes(hashlib.sha256(name.encode()).digest()[:8], "big")


@dataclass
class Trial:
    distances: np.ndarray  # to every person of the trial gallery (centroids)
    truth: int | None  # the person's index, None for a stranger
    measured: bool


@dataclass
class Trials:
    names: list[str]
    fit: list[Trial]
    measure: list[Trial]
    same_pairs: np.ndarray
    different_pairs: np.ndarray

    @property
    def gallery_size(self) -> int:
        return len(self.names)


def build_trials() -> Trials:
    gallery = shipped.read()
    if gallery is None:
        raise SystemExit("no shipped gallery: run `manage.py build_gallery`")
    vectors = gallery.embeddings()
    by_person: dict[str, list[int]] = defaultdict(list)
    for i, photo in enumerate(gallery.photos):
        by_person[photo.person].append(i)
    for rows in by_person.values():
        rows.sort(key=lambda i: gallery.photos[i].source)
    four = sorted((p for p in by_person if len(by_person[p]) >= 4), key=_hash)
    measured = set(four[:MEASURED_PEOPLE])
    strangers = sorted(
        (p for p in by_person if len(by_person[p]) < 4 and _hash(p) % 10 == 0), key=_hash
    )
    enrolled_rows, probes = [], []
    for person, rows in by_person.items():
        if person in strangers:
            continue
        if person in four:
            enrolled_rows += [(person, i) for i in rows[:3]]
            probes.append((rows[3], person, person in measured))
        else:
            enrolled_rows += [(person, i) for i in rows]
    probes += [(by_person[p][0], None, n % 2 == 1) for n, p in enumerate(strangers)]

    names = sorted({person for person, _ in enrolled_rows})
    index = {name: i for i, name in enumerate(names)}
    owner = np.array([index[p] for p, _ in enrolled_rows])
    centroids = np.zeros((len(names), 128))
    np.add.at(centroids, owner, vectors[[i for _, i in enrolled_rows]])
    centroids /= np.bincount(owner)[:, None]

    trials = Trials(names, [], [], *_pairs(gallery, vectors))
    for row, person, is_measured in probes:
        distances = np.linalg.norm(centroids - vectors[row], axis=1)
        trial = Trial(distances, None if person is None else index[person], is_measured)
        (trials.measure if is_measured else trials.fit).append(trial)
    return trials


def _pairs(gallery, vectors) -> tuple[np.ndarray, np.ndarray]:
    row_of = {photo.source: i for i, photo in enumerate(gallery.photos)}

    def path(name: str, number: str) -> str:
        return f"{name}/{name}_{int(number):04d}.jpg"

    same, different = [], []
    for line in (_setup.SHARED_DATA / PAIRS).read_text().splitlines()[1:]:
        fields = line.split("\t")
        if len(fields) == 3:
            a, b, out = path(fields[0], fields[1]), path(fields[0], fields[2]), same
        elif len(fields) == 4:
            a, b, out = path(fields[0], fields[1]), path(fields[2], fields[3]), different
        else:
            continue
        if a in row_of and b in row_of:  # a pair photo without a face was left out
            out.append(float(np.linalg.norm(vectors[row_of[a]] - vectors[row_of[b]])))
    return np.array(same), np.array(different)


def _log_likelihood(trials: list[Trial], same, different, c0: float, s: float) -> float:
    total = 0.0
    for trial in trials:
        z = c0 - np.log(len(trial.distances)) + s * trial.distances
        top = max(z.max(), 0.0)
        log_norm = top + np.log(np.exp(-top) + np.exp(z - top).sum())
        total += (0.0 if trial.truth is None else z[trial.truth]) - log_norm
    # Pairs: a gallery of one person (ln 1 = 0), the same model.
    total -= np.logaddexp(0, -(c0 + s * same)).sum() + np.logaddexp(0, c0 + s * different).sum()
    return float(total)


def fit_score(trials: Trials) -> dict:
    """Maximum likelihood on a grid, refined twice around the best point."""
    best, c0_step, s_step = (20.0, -40.0), 2.0, 4.0
    for _ in range(3):
        c0s = best[0] + c0_step * np.arange(-10, 11)
        ss = best[1] + s_step * np.arange(-10, 11)
        scored = [
            (_log_likelihood(trials.fit, trials.same_pairs, trials.different_pairs, c0, s), c0, s)
            for c0 in c0s
            for s in ss
            if s < 0
        ]
        _, c0, s = max(scored)
        best, c0_step, s_step = (float(c0), float(s)), c0_step / 8, s_step / 8
    return {"c0": round(best[0], 3), "s": round(best[1], 3)}


def likeness_anchors(trials: Trials) -> dict:
    """Likeness 100 at the typical distance between two photos of one person,
    0 at the typical distance between two different people."""
    return {
        "near": round(float(np.median(trials.same_pairs)), 3),
        "far": round(float(np.median(trials.different_pairs)), 3),
    }


def measure(trials: list[Trial], score: dict) -> dict[str, Share]:
    enrolled = [t for t in trials if t.truth is not None]
    strangers = [t for t in trials if t.truth is None]
    named = this_is = wrong_person = look_alike = 0
    for trial in trials:
        chance = chances(trial.distances, **score)
        top = int(np.argmin(trial.distances))
        sure = chance[top] >= 0.5
        if trial.truth is None:
            look_alike += not sure
        else:
            named += top == trial.truth
            this_is += top == trial.truth and sure
            wrong_person += top != trial.truth and sure
    return {
        "named_first": Share(named, len(enrolled)),
        "this_is": Share(this_is, len(enrolled)),
        "wrong_person": Share(wrong_person, len(enrolled)),
        "stranger_look_alike": Share(look_alike, len(strangers)),
    }


LABELS = {
    "named_first": "Enrolled people named first",
    "this_is": "Enrolled people told “This is X”",
    "wrong_person": "Enrolled people told “This is” someone else",
    "stranger_look_alike": "People not in the gallery told “You look most like X”",
    "no_face_refused": "Animal photos answered “No face found”",
}


def pipeline_speed(spec: dict, runs: int = 20) -> float:
    """Images per second of the whole pipeline (detect, align, embed, rank the
    shipped gallery of every person), one image at a time."""
    from PIL import Image

    from classifiers.inference.faces import (
        FaceLookalikePipeline,
        Gallery,
        load_face_model,
        package_model_path,
    )

    gallery = shipped.read()
    vectors = gallery.embeddings()
    people = [p.person for p in gallery.photos]
    pipeline = FaceLookalikePipeline(
        spec=spec["input_spec"],
        gallery=Gallery(vectors=vectors, people=people, photo_urls=[""] * len(people)),
    )
    model = load_face_model(package_model_path(spec["artifact"]))
    image = Image.open(_setup.REPO / "static/classifiers/examples/kit-harington.jpg").convert("RGB")
    pipeline.run(model, image)
    started = time.perf_counter()
    for _ in range(runs):
        pipeline.run(model, image)
    return round(runs / (time.perf_counter() - started), 1)


def no_face_refused(spec: dict) -> Share:
    """Photos of pets (dogs, cats and other animals: no person) answered
    "No face found"."""
    import csv

    from PIL import Image

    from classifiers.inference.faces import (
        FaceLookalikePipeline,
        Gallery,
        load_face_model,
        package_model_path,
    )

    pipeline = FaceLookalikePipeline(spec=spec["input_spec"], gallery=Gallery.empty())
    model = load_face_model(package_model_path(spec["artifact"]))
    refused = total = 0
    with (_setup.SHARED_DATA / "pets" / "labels.csv").open() as f:
        for row in csv.DictReader(f):
            image = Image.open(_setup.SHARED_DATA / "pets" / row["path"]).convert("RGB")
            refused += pipeline.run(model, image).status == "rejected"
            total += 1
    return Share(refused, total)


def evaluate_lookalike(spec: dict) -> dict:
    """The measuring trials' figures with the spec's score (bench/accuracy.py):
    a Share per key of LABELS, "no_face_refused", "images_per_second" and
    "gallery_size"."""
    trials = build_trials()
    figures: dict = measure(trials.measure, spec["input_spec"]["score"])
    figures["no_face_refused"] = no_face_refused(spec)
    figures["images_per_second"] = pipeline_speed(spec)
    figures["gallery_size"] = trials.gallery_size
    return figures


def _figures_for_spec(shares: dict[str, Share], trials: Trials) -> list[dict]:
    on = (
        f"LFW photos of people kept apart from the fitting: {shares['named_first'].n} enrolled "
        f"people (3 photos each) and {shares['stranger_look_alike'].n} people left out, "
        f"against a gallery of {trials.gallery_size:,} public figures"
    )
    return [
        {
            "key": key,
            "label": LABELS[key],
            "value": round(share.value, 4),
            "n": share.n,
            "unit": "people",
            "measured_on": on,
            "interval": True,
        }
        for key, share in shares.items()
    ]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--write-spec", action="store_true")
    args = parser.parse_args()
    trials = build_trials()
    print(
        f"gallery {trials.gallery_size} people; fit: {len(trials.fit)} probes, "
        f"measure: {len(trials.measure)} probes; pairs: {len(trials.same_pairs)} same, "
        f"{len(trials.different_pairs)} different"
    )
    score = fit_score(trials)
    anchors = likeness_anchors(trials)
    print(f"score c0={score['c0']} s={score['s']}; likeness {anchors}")
    pair_hits = np.sum(score["c0"] + score["s"] * trials.same_pairs > 0) + np.sum(
        score["c0"] + score["s"] * trials.different_pairs < 0
    )
    pairs = Share(int(pair_hits), len(trials.same_pairs) + len(trials.different_pairs))
    print(f"LFW training pairs told apart at a chance of 1/2: {pairs.describe('pairs')}")
    for name, subset in (("fit", trials.fit), ("measure", trials.measure)):
        for key, share in measure(subset, score).items():
            print(f"{name:>8}  {LABELS[key]:<56} {share.describe('people')}")
    if args.write_spec:
        spec = version_spec(SPEC_FILE)
        spec["input_spec"] = {
            **{k: v for k, v in spec["input_spec"].items() if k not in ("threshold", "slope")},
            "score": score,
            "likeness": anchors,
        }
        shares = measure(trials.measure, score)
        spec["metrics"] = {
            "accuracy": round(shares["named_first"].value, 4),
            "same_person_rate": round(shares["this_is"].value, 4),
            "stranger_rate": round(shares["stranger_look_alike"].value, 4),
            "gallery_size": trials.gallery_size,
            "images_per_second": pipeline_speed(spec),
            "evaluated_on": _figures_for_spec(shares, trials)[0]["measured_on"],
            "figures": _figures_for_spec(shares, trials),
        }
        (SPECS_DIR / SPEC_FILE).write_text(json.dumps(spec, indent=2, ensure_ascii=False) + "\n")
        print(f"wrote {SPECS_DIR / SPEC_FILE}")


if __name__ == "__main__":
    main()
