"""Fitting and measuring the ImageNet demos (cats-vs-dogs, dog-breeds) on
../shared/data, shared by bench/calibrate.py (fits, picks the defaults and
writes the specs) and bench/accuracy.py (prints the table). Everything goes
through the pipeline class the worker runs and through
classifiers.inference.evaluation, which validates uploaded versions too.

The photos, and which figure comes from which:

- fit pool: calibration/ (150 cats, 150 dogs, 150 other things) and the fit
  half of breeds-kaggle/ (sha256 of the photo's path, first byte even: 322
  dogs of known breed). Thresholds, prior shift, confidence map and breed
  temperature are fitted here, and the default version is chosen here.
- measured: the other half of breeds-kaggle/ (321 dogs), catsdogs-kaggle/
  (400 cats, 400 dogs), never used for fitting. The "other photos refused"
  figure is of calibration/'s 150 other photos, the only such set: each is
  judged by a calibration fitted without it (5-fold cross-fitting), so no
  figure comes from the photos a value was fitted on.

The network's outputs for every photo (as it is and mirrored) are computed
once per artifact and input spec and cached under var/bench/imagenet/.
"""

from __future__ import annotations

import csv
import hashlib
import io
import json
import statistics
import time
from dataclasses import dataclass
from functools import cache
from pathlib import Path

import _setup
import numpy as np
from PIL import Image

from classifiers.catalog import imagenet_labels
from classifiers.inference import evaluation
from classifiers.inference.imagenet import ImagenetSubsetPipeline
from classifiers.inference.images import decode_upload
from classifiers.inference.preprocessing import merge_views
from classifiers.inference.stats import Share

LATENCY_PHOTO = _setup.REPO / "static" / "classifiers" / "examples" / "golden-retriever.jpg"
CACHE = _setup.REPO / "var" / "bench" / "imagenet"
FOLDS = 5
FOLDERS = ("calibration", "breeds-kaggle", "catsdogs-kaggle")

# What each set is, in words a visitor understands (no paths).
CALIBRATION_OTHERS = (
    "150 photos of other things (people, furniture, farm and wild animals, objects) "
    "from ImageNet's sample photos; each judged by a threshold tuned without it "
    "(5-fold cross-fitting)"
)
CATSDOGS = (
    "800 photos from the Kaggle dogs-vs-cats test set (400 cats, 400 dogs), not used for tuning"
)
CATSDOGS_CATS = "400 cat photos from the Kaggle dogs-vs-cats test set, not used for tuning"
BREEDS_MEASURE = (
    "321 dog photos of 114 breeds from the Kaggle dog-breed set: the half kept apart from tuning"
)
FIT_POOL = (
    "300 shelter photos of cats and dogs, 150 photos of other things and 322 dog photos "
    "from the Kaggle dog-breed set (the half not used for the figures)"
)


# -- photos and labels ----------------------------------------------------------------


def rows(folder: str) -> list[dict]:
    base = _setup.SHARED_DATA / folder
    with (base / "labels.csv").open() as f:
        return [{**r, "file": base / r["path"]} for r in csv.DictReader(f)]


def image(path: Path) -> Image.Image:
    """The photo as a worker sees an upload: decoded, upright, re-encoded, stored."""
    stored = decode_upload(path.read_bytes(), max_bytes=10**9, max_pixels=10**9).jpeg
    return Image.open(io.BytesIO(stored)).convert("RGB")


@cache
def breed_names() -> dict[str, str]:
    """breeds-kaggle's names ("german_short-haired_pointer") -> ImageNet's
    ("German short-haired pointer"), among the dog classes only (ImageNet's
    "cardigan" 474 is a sweater; the corgi is "Cardigan", 264)."""
    from classifiers.catalog import DOG_CLASSES

    labels = imagenet_labels()
    dogs = [i for lo, hi in DOG_CLASSES for i in range(lo, hi + 1)]
    return {labels[i].casefold().replace(" ", "_"): labels[i] for i in dogs}


def half(path: str) -> int:
    """0: the fit half of breeds-kaggle, 1: the measured half (as
    evaluation.split_for_fitting splits an uploaded evaluation set)."""
    fit, _ = evaluation.split_for_fitting([path])
    return 0 if fit else 1


def fold(key: str) -> int:
    return hashlib.sha256(key.encode()).digest()[1] % FOLDS


@dataclass
class Photos:
    """Photos of one or more sets with their labels for either demo."""

    folder: list[str]
    index: list[int]  # row in its folder's labels.csv
    kind: list[str]  # cat, dog, neither
    breed: list[str | None]  # ImageNet name of the breed, when known

    def truth(self, pipeline: ImagenetSubsetPipeline) -> list[str]:
        if pipeline.within:
            return [b or k for k, b in zip(self.kind, self.breed, strict=True)]
        return list(self.kind)

    def select(self, keep: list[bool]) -> Photos:
        pick = [i for i, k in enumerate(keep) if k]
        return Photos(*([getattr(self, f)[i] for i in pick] for f in Photos.__dataclass_fields__))

    def __len__(self) -> int:
        return len(self.kind)

    def __add__(self, other: Photos) -> Photos:
        return Photos(*(getattr(self, f) + getattr(other, f) for f in Photos.__dataclass_fields__))


def photos(folder: str) -> Photos:
    found = rows(folder)
    if folder == "calibration":
        kind = [r["cat_dog_neither"] for r in found]
        breed = [None] * len(found)
    elif folder == "catsdogs-kaggle":
        kind = [r["cat_dog"] for r in found]
        breed = [None] * len(found)
    else:
        kind = ["dog"] * len(found)
        breed = [breed_names()[r["breed"].casefold()] for r in found]
    return Photos([folder] * len(found), list(range(len(found))), kind, breed)


def fit_pool() -> Photos:
    breeds = photos("breeds-kaggle")
    first = [half(r["path"]) == 0 for r in rows("breeds-kaggle")]
    return photos("calibration") + breeds.select(first)


def breeds_measured() -> Photos:
    return photos("breeds-kaggle").select([half(r["path"]) == 1 for r in rows("breeds-kaggle")])


# -- the network's outputs ----------------------------------------------------------------


def pipeline(demo: dict, spec: dict, calibration: dict | None = None) -> ImagenetSubsetPipeline:
    return ImagenetSubsetPipeline(
        labels=imagenet_labels(),
        spec=spec["input_spec"],
        config=demo["config"],
        calibration=spec.get("calibration", {}) if calibration is None else calibration,
    )


_models: dict[str, object] = {}


def artifact_path(spec: dict) -> Path:
    return Path(_setup.settings.ML_MODELS_DIR) / spec["artifact"]


def model(spec: dict):
    if spec["artifact"] not in _models:
        _models[spec["artifact"]] = ImagenetSubsetPipeline.load_model(artifact_path(spec))
    return _models[spec["artifact"]]


@cache
def _file_sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def views(spec: dict, folder: str) -> np.ndarray:
    """(photos, 2, 1000): each photo of a folder as it is and mirrored, through
    the version's network and preprocessing (cached: the two demos, and the
    versions with and without flip, share their networks)."""
    plain = {k: v for k, v in spec["input_spec"].items() if k != "tta"}
    key = hashlib.sha256(
        json.dumps(
            [
                _file_sha256(artifact_path(spec)),
                plain,
                folder,
                _file_sha256(_setup.SHARED_DATA / folder / "labels.csv"),
            ],
            sort_keys=True,
        ).encode()
    ).hexdigest()[:20]
    path = CACHE / f"{spec['artifact']}-{folder}-{key}.npy"
    if path.exists():
        return np.load(path)
    flipped = ImagenetSubsetPipeline(
        labels=imagenet_labels(), spec={**plain, "tta": "flip"}, config={"groups": {}}
    )
    loaded = model(spec)
    out = []
    files = [r["file"] for r in rows(folder)]
    for start in range(0, len(files), 16):
        batch = np.concatenate([flipped.preprocess(image(f)) for f in files[start : start + 16]])
        out.append(
            np.asarray(loaded.predict_on_batch(batch), dtype=np.float32).reshape(-1, 2, 1000)
        )
    result = np.concatenate(out)
    CACHE.mkdir(parents=True, exist_ok=True)
    np.save(path, result)
    return result


def probabilities(spec: dict, chosen: Photos) -> np.ndarray:
    """One row per photo, as the version's ``predict`` gives it (flip: averaged)."""
    count = 2 if spec["input_spec"].get("tta") == "flip" else 1
    by_folder = {f: views(spec, f) for f in set(chosen.folder)}
    rows_ = np.stack([by_folder[f][i] for f, i in zip(chosen.folder, chosen.index, strict=True)])
    return merge_views(rows_[:, :count].reshape(-1, rows_.shape[-1]), count)


# -- fitting and measuring --------------------------------------------------------------


def fit(demo: dict, spec: dict, pool: Photos | None = None) -> dict:
    """The version's calibration, fitted on the fit pool."""
    pool = fit_pool() if pool is None else pool
    pl = pipeline(demo, spec, calibration={})
    return evaluation.fit_calibration(
        pl, probabilities(spec, pool), pool.truth(pl), described=FIT_POOL
    )


def cross_fitted(demo: dict, spec: dict) -> tuple[Photos, list]:
    """Every photo of the fit pool answered by a calibration fitted on the
    other folds (5-fold): how the fitting does on photos it has not seen."""
    pool = fit_pool()
    keys = [f"{f}/{i}" for f, i in zip(pool.folder, pool.index, strict=True)]
    p = probabilities(spec, pool)
    outcomes: list = [None] * len(pool)
    for k in range(FOLDS):
        inside = [fold(key) != k for key in keys]
        pl = pipeline(demo, spec, calibration=fit(demo, spec, pool.select(inside)))
        for i, keep in enumerate(inside):
            if not keep:
                outcomes[i] = pl.postprocess(p[i][None])
    return pool, outcomes


def evaluate(demo: dict, spec: dict, calibration: dict | None = None) -> dict:
    """The version's metrics (scalar keys and figures) with its calibration."""
    pl = pipeline(demo, spec, calibration)
    pool, outcomes = cross_fitted(demo, spec)
    others = [
        o.status == "rejected"
        for o, f, k in zip(outcomes, pool.folder, pool.kind, strict=True)
        if f == "calibration" and k == "neither"
    ]
    refused = Share(sum(others), len(others))
    if pl.within:
        measured = breeds_measured()
        assessment = evaluation.assess(pl, probabilities(spec, measured), measured.truth(pl))
        cats = photos("catsdogs-kaggle").select(
            [k == "cat" for k in photos("catsdogs-kaggle").kind]
        )
        cat_assessment = evaluation.assess(pl, probabilities(spec, cats), cats.truth(pl))
        targets_on = BREEDS_MEASURE
        extra = [
            evaluation.share_figure(
                "cats_refused",
                "Cats told they are not dogs",
                cat_assessment.refused,
                unit="cat photos",
                measured_on=CATSDOGS_CATS,
            )
        ]
        evaluated_on = f"{BREEDS_MEASURE}; other photos: {CALIBRATION_OTHERS}"
    else:
        measured = photos("catsdogs-kaggle")
        assessment = evaluation.assess(pl, probabilities(spec, measured), measured.truth(pl))
        targets_on = CATSDOGS
        extra = []
        evaluated_on = f"{CATSDOGS}; other photos: {CALIBRATION_OTHERS}"
    figures = evaluation.figures(pl, assessment, targets_on=targets_on, others_on="")
    figures.append(
        evaluation.share_figure(
            "rejection_rate",
            evaluation.words(pl)["refused"],
            refused,
            unit="photos",
            measured_on=CALIBRATION_OTHERS,
        )
    )
    return {
        **assessment.scalars(),
        "rejection_rate": round(refused.value, 4),
        "evaluated_on": evaluated_on,
        "figures": figures + extra,
        "reliability": evaluation.reliability_record(assessment, measured_on=targets_on),
    }


def measured_assessment(demo: dict, spec: dict) -> tuple[evaluation.Assessment, str]:
    """The demo's answers on the photos its figures are measured on, with the
    version's stored calibration (what ``evaluate`` counts), and those photos in words."""
    pl = pipeline(demo, spec)
    if pl.within:
        measured, described = breeds_measured(), BREEDS_MEASURE
    else:
        measured, described = photos("catsdogs-kaggle"), CATSDOGS
    return evaluation.assess(pl, probabilities(spec, measured), measured.truth(pl)), described


def plain(demo: dict, spec: dict) -> list[dict]:
    """The network the demo wraps, read the plain way and never refusing: the
    likelier of p(cat) and p(dog); the likeliest dog class. What the demo's
    fitted rule must at least match."""
    pl = pipeline(demo, spec, calibration={})
    if pl.within:
        measured = breeds_measured()
        p = probabilities(spec, measured)[:, pl.groups["dog"]]
        index = pl.member_index()
        truth = np.array([index[b.casefold()] for b in measured.breed])
        ranked = np.argsort(-p, axis=1)
        top1 = Share(int((ranked[:, 0] == truth).sum()), len(truth))
        top3 = Share(int((ranked[:, :3] == truth[:, None]).any(axis=1).sum()), len(truth))
        assessment = evaluation.Assessment(
            top1, top3, Share(0, len(truth)), Share(0, 0), None, 0, None
        )
        return evaluation.figures(pl, assessment, targets_on=BREEDS_MEASURE, others_on="")
    measured = photos("catsdogs-kaggle")
    first, second = pl.group_sums(probabilities(spec, measured))
    said = np.where(first >= second, "cat", "dog")
    top1 = Share(int((said == np.array(measured.kind)).sum()), len(said))
    assessment = evaluation.Assessment(top1, None, Share(0, len(said)), Share(0, 0), None, 0, None)
    return evaluation.figures(pl, assessment, targets_on=CATSDOGS, others_on="")


def selection_losses(spec: dict, demos: dict[str, dict]) -> np.ndarray:
    """Per photo of the fit pool, what its cross-fitted answers cost, summed so
    the whole is the rule's cost (targets turned away or confused, others
    answered, each a rate) plus the breed error rate on the fit-pool dogs."""
    pool, cvd = cross_fitted(demos["cats-vs-dogs"], spec)
    _, breeds = cross_fitted(demos["dog-breeds"], spec)
    kind = np.array(pool.kind)
    said = np.array([o.label if o.status == "done" else "neither" for o in cvd])
    targets = kind != "neither"
    loss = np.where(targets, (said != kind) / targets.sum(), (said != "neither") / (~targets).sum())
    known = np.array([b is not None for b in pool.breed])
    dogs = pipeline(demos["dog-breeds"], spec)
    index, members = dogs.member_index(), dogs.groups["dog"]
    for i in np.flatnonzero(known):
        right = dogs.display_name(members[index[pool.breed[i].casefold()]])
        loss[i] += (breeds[i].status != "done" or breeds[i].label != right) / known.sum()
    return loss


def speed(demo: dict, spec: dict, runs: int = 30) -> dict:
    """What one worker spends per photo: preprocess, predict with Grad-CAM,
    postprocess (single images, as uploads arrive)."""
    pl = pipeline(demo, spec)
    loaded = model(spec)
    photo = Image.open(LATENCY_PHOTO).convert("RGB")
    for _ in range(3):
        pl.run(loaded, photo)  # tracing and allocation happen on the first calls
    timings = []
    for _ in range(runs):
        started = time.perf_counter()
        pl.run(loaded, photo)
        timings.append((time.perf_counter() - started) * 1000)
    p50 = round(statistics.median(timings), 1)
    return {
        "latency_p50_ms": p50,
        "images_per_second": round(1000 / p50, 1),
        "latency_runs": runs,
    }


def latency_figure(metrics: dict) -> dict:
    return evaluation.latency_figure(
        metrics["latency_p50_ms"],
        runs=metrics.get("latency_runs", 30),
        measured_on="a 2-core CPU, one photo at a time, heatmap included",
    )
