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
    """The enrolled faces, one row per photo, and each person's centroid.

    A person is compared by the centre of their photos' embeddings: with
    several photos it is steadier than the nearest single photo (on LFW
    open-set trials it named enrolled people first 99% of the time, against
    98% for the nearest photo).
    """

    vectors: np.ndarray  # (n, 128) float32, one row per photo
    people: list[str]  # the person of each row
    photo_urls: list[str]
    revision: tuple = field(default=(), compare=False)
    names: list[str] = field(init=False, compare=False)  # one per person
    centroids: np.ndarray = field(init=False, compare=False)  # (persons, 128)
    owner: np.ndarray = field(init=False, compare=False)  # row -> person index

    def __post_init__(self) -> None:
        names = sorted(set(self.people))
        index = {name: i for i, name in enumerate(names)}
        owner = np.array([index[p] for p in self.people], dtype=np.int64)
        centroids = np.zeros((len(names), self.vectors.shape[1] if self.vectors.ndim == 2 else 128))
        if len(owner):
            np.add.at(centroids, owner, self.vectors)
            centroids /= np.bincount(owner, minlength=len(names))[:, None]
        object.__setattr__(self, "names", names)
        object.__setattr__(self, "owner", owner)
        object.__setattr__(self, "centroids", centroids.astype(np.float32))

    @classmethod
    def empty(cls) -> Gallery:
        return cls(vectors=np.zeros((0, 128), np.float32), people=[], photo_urls=[])

    def __len__(self) -> int:
        return len(self.people)

    @property
    def size(self) -> int:
        """How many people it knows (N in the score)."""
        return len(self.names)


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


def chances(distances: np.ndarray, *, c0: float, s: float) -> np.ndarray:
    """The probability that the face is each of the N people of the gallery.

    One model for every gallery size: each person i gets the weight
    exp(c0 - ln N + s * d_i) and "someone not in the gallery" the weight 1,
    so the chances of all people and of a stranger sum to 1. At N = 1 it is
    the logistic curve of same-person pairs; with thousands of people a
    near-enough face must also stand out from everyone else, as the chance of
    a false match grows with the gallery. ``c0`` and ``s`` are fitted on
    LFW's training pairs and on open-set trials together
    (bench/faces_accuracy.py).
    """
    n = len(distances)
    if n == 0:
        return np.zeros(0)
    z = c0 - math.log(n) + s * np.asarray(distances, dtype=np.float64)
    top = max(float(z.max()), 0.0)  # shift for exp; the stranger's weight is exp(0 - top)
    weights = np.exp(z - top)
    return weights / (math.exp(-top) + weights.sum())


def likeness(distance: float, *, near: float, far: float) -> int:
    """How alike two faces look, 0 to 100: not a probability. ``near`` is a
    distance most photos of one person are within, ``far`` one most pairs of
    different people are beyond (both from LFW's training pairs)."""
    return round(100 * min(1.0, max(0.0, (far - distance) / (far - near))))


def identify(
    vector: np.ndarray, gallery: Gallery, spec: dict, k: int = TOP_PEOPLE
) -> tuple[list[dict], float]:
    """The ``k`` nearest people, each with its chance of being the face
    (coherent: with the chance of a stranger they sum to 1), its likeness and
    the photo of theirs nearest to the face; and the chance that it is
    someone not in the gallery."""
    if gallery.size == 0:
        return [], 1.0
    distances = np.linalg.norm(gallery.centroids - vector[None, :], axis=1)
    chance = chances(distances, **spec["score"])
    to_photos = np.linalg.norm(gallery.vectors - vector[None, :], axis=1)
    ranked = []
    for person in np.argsort(distances, kind="stable")[:k]:
        rows = np.flatnonzero(gallery.owner == person)
        nearest_photo = rows[np.argmin(to_photos[rows])]
        ranked.append(
            {
                "label": gallery.names[person],
                "score": float(chance[person]),
                "likeness": likeness(float(distances[person]), **spec["likeness"]),
                "distance": float(distances[person]),
                "photo_url": gallery.photo_urls[nearest_photo],
            }
        )
    return ranked, max(0.0, 1.0 - float(chance.sum()))


class FaceLookalikePipeline(Pipeline):
    """Detect, align and embed the largest face, then rank the gallery's people.

    ``spec`` (the version's input_spec) holds the fitted score (``c0``, ``s``:
    see ``chances``) and likeness anchors; ``gallery`` holds the enrolled
    faces embedded with this version's network. The answer says "This is X"
    only when the chance that the face is X is at least one half.
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
        def number(value) -> bool:
            return isinstance(value, int | float) and not isinstance(value, bool)

        score, alike = spec.get("score"), spec.get("likeness")
        if not (isinstance(score, dict) and number(score.get("c0")) and number(score.get("s"))):
            raise Refused(
                "Input spec: 'score' must hold the fitted numbers 'c0' and 's' "
                "(bench/faces_accuracy.py fits them for a network).",
                code="bad_spec",
            )
        if score["s"] >= 0:
            raise Refused("Input spec: score 's' must be negative (farther is less alike).")
        if not (
            isinstance(alike, dict)
            and number(alike.get("near"))
            and number(alike.get("far"))
            and 0 <= alike["near"] < alike["far"]
        ):
            raise Refused(
                "Input spec: 'likeness' must hold distances 'near' < 'far'.", code="bad_spec"
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
        top, stranger = identify(found.vector, self.gallery, self.spec)
        if not top:
            return Outcome(
                status="rejected",
                label=None,
                score=None,
                reason="The gallery has no one in it yet",
                details=details,
            )
        best = top[0]
        details.update(
            gallery_size=self.gallery.size,
            distance=round(best["distance"], 4),
            stranger=round(stranger, 4),
            # At least one half: more likely that very person than anyone else
            # or someone not in the gallery ("This is X"); else a look-alike.
            same_person=best["score"] >= 0.5,
        )
        reason = ""
        if found.faces > 1:
            reason = f"{found.faces} faces found; answering for the largest"
        return Outcome(
            status="done",
            label=best["label"],
            score=best["score"],
            top=top,
            reason=reason,
            details=details,
        )

    def answers(self) -> list[str]:
        return sorted(set(self.gallery.people), key=str.casefold)

    def accepts_label(self, label: str) -> bool:
        return bool(label.strip())  # photos are labelled by the person's name

    def corrections(self) -> list[tuple[str, str]]:
        return []  # the person's name, written: thousands of people, and anyone else

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
        architecture = {
            "summary": "A dlib face-embedding network: faces found with dlib's HOG detector "
            f"are embedded as {vectors[0].shape[0]}-d vectors and compared with the gallery."
        }
        return ValidationReport(
            metrics={"architecture": architecture, **self.latency(model, blank)},
            calibration={},
            summary=f"Loads; embeds faces as {vectors[0].shape[0]}-d vectors.",
        )


def _square_around(box: list[int] | None, size: tuple[int, int], room: float) -> tuple:
    """A square of ``room`` times the face's side centred on it, kept inside the
    photo (the photo's centre when no face is known)."""
    width, height = size
    if box:
        left, top, right, bottom = box
        cx, cy = (left + right) / 2, (top + bottom) / 2
        side = max(right - left, bottom - top) * room
    else:
        cx, cy, side = width / 2, height / 2, min(width, height)
    side = min(side, width, height)
    x0 = int(min(max(cx - side / 2, 0), width - side))
    y0 = int(min(max(cy - side / 2, 0), height - side))
    return (x0, y0, x0 + int(side), y0 + int(side))


def face_crop_jpeg(file, box: list[int] | None, size: int = 96) -> bytes:
    """A small square JPEG of the face at ``box`` with some room around it
    (or of the photo's centre when no face is known)."""
    image = Image.open(file).convert("RGB")
    crop = image.crop(_square_around(box, image.size, 1.6))
    crop = crop.resize((size, size), Image.Resampling.LANCZOS)
    buffer = io.BytesIO()
    crop.save(buffer, format="JPEG", quality=85)
    return buffer.getvalue()


def gallery_thumbnail(
    image: Image.Image, box: list[int], *, size: int = 144, room: float = 2.0, quality: int = 80
) -> tuple[bytes, list[int]]:
    """A gallery photo that ships with the site: the face with room around it
    (so it can be found and embedded again by another network), small enough
    for thousands of them; and the face's box in it."""
    x0, y0, x1, y1 = _square_around(box, image.size, room)
    scale = size / (x1 - x0)
    thumb = image.crop((x0, y0, x1, y1)).resize((size, size), Image.Resampling.LANCZOS)
    buffer = io.BytesIO()
    thumb.save(buffer, format="JPEG", quality=quality, optimize=True)
    left, top, right, bottom = box
    inner = [
        max(0, round((left - x0) * scale)),
        max(0, round((top - y0) * scale)),
        min(size, round((right - x0) * scale)),
        min(size, round((bottom - y0) * scale)),
    ]
    return buffer.getvalue(), inner
