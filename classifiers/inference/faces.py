"""The face look-alike pipeline: find the face, align it, embed it, find the nearest people.

dlib's HOG face detector (its CNN detector is far too slow on a CPU), its
5-point landmark model to align the face, and its 128-d ResNet embedding
(99.38% on LFW pairs), all from PyPI ``face-recognition-models`` and
``dlib-bin``. The version's artifact is the embedding network; the detector
is built into dlib and the landmark model is read from the installed package.

dlib is imported inside functions only, so the web process never loads it.
The gallery (one embedding per photo per model version) is read from the
database by ``classifiers.gallery.worker`` and passed in.
"""

from __future__ import annotations

import importlib.util
import io
import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image

from classifiers.inference.pipelines import (
    LabelledPhoto,
    Outcome,
    Pipeline,
    ValidationFailed,
    ValidationReport,
)
from classifiers.inference.refusals import Refused

CHIP_SIZE = 150  # the embedding network's input: an aligned 150x150 face chip
CHIP_PADDING = 0.25  # dlib's default, the one the network was trained with
TOP_PEOPLE = 3
NO_FACE = "No face found"
WEAK_DETECTION_MARGIN = 1.0  # in HOG detector score (an SVM margin)


@dataclass(frozen=True)
class FaceModel:
    """Everything one worker process loads once per embedding-model version."""

    detector: Any
    shape_predictor: Any
    net: Any


@dataclass(frozen=True)
class FoundFace:
    """What a photo gives: the embedding of its largest face, or nothing."""

    faces: int
    vector: np.ndarray | None = None  # (128,) float32
    box: list[int] | None = None  # [left, top, right, bottom] in the image's pixels


@dataclass(frozen=True)
class Gallery:
    """The enrolled faces, one row per photo."""

    vectors: np.ndarray  # (n, 128) float32
    people: list[str]
    photo_urls: list[str]
    revision: tuple = field(default=(), compare=False)

    @classmethod
    def empty(cls) -> Gallery:
        return cls(vectors=np.zeros((0, 128), np.float32), people=[], photo_urls=[])

    def __len__(self) -> int:
        return len(self.people)


def package_model_path(filename: str) -> Path:
    """A model file shipped in face-recognition-models, found without importing it
    (its __init__ needs pkg_resources, which new setuptools no longer ship)."""
    spec = importlib.util.find_spec("face_recognition_models")
    if spec is None or not spec.submodule_search_locations:
        raise FileNotFoundError("the face-recognition-models package is not installed")
    return Path(next(iter(spec.submodule_search_locations))) / "models" / filename


def load_face_model(path: Path | str) -> FaceModel:
    """The detector, the landmark model and the embedding network at ``path``."""
    import dlib

    return FaceModel(
        detector=dlib.get_frontal_face_detector(),
        shape_predictor=dlib.shape_predictor(
            str(package_model_path("shape_predictor_5_face_landmarks.dat"))
        ),
        net=dlib.face_recognition_model_v1(str(path)),
    )


def to_pixels(image: Image.Image) -> np.ndarray:
    """dlib wants a contiguous RGB uint8 array."""
    return np.ascontiguousarray(np.asarray(image.convert("RGB"), dtype=np.uint8))


def embed_largest_face(model: FaceModel, pixels: np.ndarray) -> FoundFace:
    """Detect every face, align and embed the largest one.

    HOG finds faces of about 80 px and up; when it finds none, one 2x
    upsampling pass looks for faces down to about 40 px before giving up.
    """
    import dlib

    rects, scores, _ = model.detector.run(pixels, 0, 0.0)
    if len(rects) == 0:
        rects, scores, _ = model.detector.run(pixels, 1, 0.0)
    if len(rects) == 0:
        return FoundFace(faces=0)
    # dlib's default threshold (0) is loose: a lone face may score 0.05, so it
    # stays, but a detection far weaker than the best one in the same photo is
    # usually hair, a hand or a pattern, and must not be "the largest face".
    best = max(scores)
    rects = [r for r, s in zip(rects, scores, strict=True) if s >= best - WEAK_DETECTION_MARGIN]
    largest = max(rects, key=lambda r: r.area())
    shape = model.shape_predictor(pixels, largest)
    chip = dlib.get_face_chip(pixels, shape, size=CHIP_SIZE, padding=CHIP_PADDING)
    vector = np.asarray(model.net.compute_face_descriptor(chip), dtype=np.float32)
    if vector.shape != (128,) or not np.all(np.isfinite(vector)):
        raise ValueError("the embedding network produced an invalid vector")
    height, width = pixels.shape[:2]
    box = [
        max(0, largest.left()),
        max(0, largest.top()),
        min(width, largest.right()),
        min(height, largest.bottom()),
    ]
    return FoundFace(faces=len(rects), vector=vector, box=box)


def similarity(distance: float, *, threshold: float, slope: float) -> float:
    """How likely two faces at this embedding distance are one person, in [0, 1].

    A logistic curve fitted on pairs of photos (see bench/faces_accuracy.py):
    0.5 at the threshold where "same person" and "different people" are
    equally likely, so the score means the same thing for every gallery.
    """
    z = slope * (distance - threshold)
    if z > 50:  # exp overflows; the answer is 0 to any printed precision
        return 0.0
    return 1.0 / (1.0 + math.exp(z))


def nearest_people(vector: np.ndarray, gallery: Gallery, k: int = TOP_PEOPLE) -> list[dict]:
    """The ``k`` nearest distinct people, each at the distance of their closest photo."""
    if len(gallery) == 0:
        return []
    distances = np.linalg.norm(gallery.vectors - vector[None, :], axis=1)
    ranked: list[dict] = []
    seen: set[str] = set()
    for i in np.argsort(distances, kind="stable"):
        person = gallery.people[i]
        if person in seen:
            continue
        seen.add(person)
        ranked.append(
            {
                "label": person,
                "distance": float(distances[i]),
                "photo_url": gallery.photo_urls[i],
            }
        )
        if len(ranked) == k:
            break
    return ranked


class FaceLookalikePipeline(Pipeline):
    """Detect, align and embed the largest face, then rank the gallery's people.

    ``spec`` (the version's input_spec) holds the fitted ``threshold`` and
    ``slope`` that turn a distance into a score; ``gallery`` holds the
    enrolled faces embedded with this version's network.
    """

    kind = "face-lookalike"
    title = "Face look-alike"
    artifact_suffix = ".dat"
    result_template = "classifiers/results/lookalike.html"
    uses_gallery = True

    def __init__(self, **kwargs) -> None:
        super().__init__(**kwargs)
        if self.gallery is None:
            self.gallery = Gallery.empty()

    @classmethod
    def check_spec(cls, spec: dict) -> None:
        for key in ("threshold", "slope"):
            value = spec.get(key)
            if not isinstance(value, int | float) or isinstance(value, bool) or value <= 0:
                raise Refused(
                    f"Input spec: '{key}' must be a positive number (the fitted distance "
                    "threshold and slope of the score).",
                    code="bad_spec",
                )

    @staticmethod
    def load_model(path) -> FaceModel:
        return load_face_model(path)

    def preprocess(self, image: Image.Image) -> np.ndarray:
        return to_pixels(image)

    def predict(self, model: FaceModel, pixels: np.ndarray) -> FoundFace:
        return embed_largest_face(model, pixels)

    def postprocess(self, found: FoundFace) -> Outcome:
        if found.vector is None:
            return Outcome(
                status="rejected", label=None, score=None, reason=NO_FACE, details={"faces": 0}
            )
        details: dict[str, Any] = {"faces": found.faces, "box": found.box}
        people = nearest_people(found.vector, self.gallery)
        if not people:
            return Outcome(
                status="rejected",
                label=None,
                score=None,
                reason="The gallery has no one in it yet",
                details=details,
            )
        threshold = float(self.spec["threshold"])
        slope = float(self.spec["slope"])
        top = [
            {
                "label": p["label"],
                "score": similarity(p["distance"], threshold=threshold, slope=slope),
                "photo_url": p["photo_url"],
            }
            for p in people
        ]
        best = people[0]
        details.update(
            distance=round(best["distance"], 4),
            threshold=threshold,
            # Below the threshold the face is more likely that very person
            # than someone who merely looks like them.
            same_person=best["distance"] <= threshold,
        )
        reason = ""
        if found.faces > 1:
            reason = f"{found.faces} faces found; answering for the largest"
        return Outcome(
            status="done",
            label=best["label"],
            score=top[0]["score"],
            top=top,
            reason=reason,
            details=details,
        )

    def answers(self) -> list[str]:
        return sorted(set(self.gallery.people), key=str.casefold)

    def accepts_label(self, label: str) -> bool:
        return bool(label.strip())  # photos are labelled by the person's name

    @staticmethod
    def short_answer(result: dict) -> str:
        answer = Pipeline.short_answer(result)
        if result.get("details", {}).get("same_person") is False:
            return f"looks like {answer}"  # the nearest person, not that person
        return answer

    def validate(
        self,
        path,
        *,
        examples: Sequence[Image.Image],
        evaluation: Sequence[LabelledPhoto] | None,
        evaluation_name: str = "",
    ) -> ValidationReport:
        """The network must load and embed the faces in the demo's examples
        as finite vectors of one size."""
        try:
            model = self.load_model(path)
        except Exception as exc:
            raise ValidationFailed(
                "The embedding network could not be loaded (is it a dlib face "
                "recognition .dat file?)."
            ) from exc
        vectors = []
        for image in examples:
            try:
                found = self.predict(model, self.preprocess(image))
            except ValueError as exc:  # embed_largest_face checks every vector
                raise ValidationFailed("The network produced invalid embeddings.") from exc
            if found.vector is not None:
                vectors.append(np.asarray(found.vector, dtype=np.float64))
        if not vectors:
            raise ValidationFailed("No face in the demo's examples could be embedded.")
        if not all(np.all(np.isfinite(v)) and v.shape == vectors[0].shape for v in vectors):
            raise ValidationFailed("The network produced NaN or inconsistent embeddings.")
        blank = Image.new("RGB", (160, 160), (127, 127, 127))
        return ValidationReport(
            metrics=self.latency(model, blank),
            calibration={},
            summary=f"Loads; embeds faces as {vectors[0].shape[0]}-d vectors.",
        )


def face_crop_jpeg(file, box: list[int] | None, size: int = 96) -> bytes:
    """A small square JPEG of the face at ``box`` with some room around it
    (or of the photo's centre when no face is known)."""
    image = Image.open(file).convert("RGB")
    width, height = image.size
    if box:
        left, top, right, bottom = box
        cx, cy = (left + right) / 2, (top + bottom) / 2
        side = max(right - left, bottom - top) * 1.6
    else:
        cx, cy, side = width / 2, height / 2, min(width, height)
    side = min(side, width, height)
    x0 = int(min(max(cx - side / 2, 0), width - side))
    y0 = int(min(max(cy - side / 2, 0), height - side))
    crop = image.crop((x0, y0, x0 + int(side), y0 + int(side)))
    crop = crop.resize((size, size), Image.Resampling.LANCZOS)
    buffer = io.BytesIO()
    crop.save(buffer, format="JPEG", quality=85)
    return buffer.getvalue()
