"""What every demo kind provides: preprocess -> predict -> postprocess, plus
hooks for everything else that differs between kinds.

A kind is one class (``imagenet.py``, ``faces.py``), registered by dotted
path in ``kinds.py``. The worker, the ``predict`` command, validation of
uploaded versions and the benchmarks all go through these classes, so what a
user sees is what was measured. Nothing here knows Django: the Django side
(``classifiers.serving``) builds a pipeline from plain data and passes in
what it needs from the database (a look-alike gallery).
"""

from __future__ import annotations

import statistics
import time
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from typing import Any, ClassVar

from PIL import Image

from classifiers.inference.refusals import Refused

LATENCY_RUNS = 10


@dataclass
class Outcome:
    status: str  # "done" | "rejected"
    label: str | None
    score: float | None
    top: list[dict[str, Any]] = field(default_factory=list)
    reason: str = ""
    details: dict[str, Any] = field(default_factory=dict)

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


class ValidationFailed(Refused):
    """An uploaded version is unusable; the message is the reason staff read."""

    code = "invalid_model"


@dataclass
class ValidationReport:
    metrics: dict
    calibration: dict
    summary: str
    # The input spec completed with what the model itself declares (its input
    # size), when the upload left that out; None keeps the spec as uploaded.
    input_spec: dict | None = None


@dataclass(frozen=True)
class LabelledPhoto:
    label: str
    name: str
    image: Image.Image


class Pipeline:
    """One demo kind. Subclasses set the class attributes and the three steps;
    the other hooks have defaults that suit a Keras classifier."""

    kind: ClassVar[str] = ""
    title: ClassVar[str] = ""
    # What an uploaded artifact must be called: anything else is refused unopened.
    artifact_suffix: ClassVar[str] = ".keras"
    # The template partial that shows a finished answer of this kind.
    result_template: ClassVar[str] = ""
    # True when answers need the demo's gallery of enrolled people: the Django
    # side then loads it for the version and passes it in, and a new version
    # is served only once the gallery has been embedded with it.
    uses_gallery: ClassVar[bool] = False
    # What the upload form asks for: "image" (how photos were prepared for
    # training: normalisation, crop; the size is read from the model) or
    # "json" (an input spec written out, e.g. the look-alike's fitted score).
    spec_form: ClassVar[str] = "json"

    def __init__(
        self,
        *,
        config: dict | None = None,
        labels: Sequence[str] = (),
        spec: dict | None = None,
        calibration: dict | None = None,
        gallery: Any = None,
    ) -> None:
        self.config = config or {}
        self.labels = list(labels)
        self.spec = spec or {}
        self.calibration = calibration or {}
        self.gallery = gallery

    # -- set-up ----------------------------------------------------------------
    @classmethod
    def check_spec(cls, spec: dict) -> None:
        """Refuse an uploaded input spec this kind cannot serve (raises Refused);
        what validation reads from the model itself may be left out."""

    @staticmethod
    def load_model(path):
        """Load the version's artifact; called once per process per version."""
        raise NotImplementedError

    # -- the three steps -------------------------------------------------------
    def preprocess(self, image: Image.Image):
        raise NotImplementedError

    def predict(self, model, batch):
        raise NotImplementedError

    def postprocess(self, raw) -> Outcome:
        raise NotImplementedError

    def run(self, model, image: Image.Image) -> Outcome:
        return self.postprocess(self.predict(model, self.preprocess(image)))

    def run_batch(self, model, images: Sequence[Image.Image]) -> list[Outcome]:
        """Answers for several photos; a kind whose network takes batches does
        them in one forward pass (each answer as ``run`` would give it)."""
        return [self.run(model, image) for image in images]

    # -- what the site shows and checks ----------------------------------------
    @staticmethod
    def short_answer(result: dict) -> str:
        """The answer in a few words, for a history row."""
        label = result.get("label") or result.get("reason") or ""
        score = result.get("score")
        return f"{label} ({score:.0%})" if score is not None and label else label

    def answers(self) -> list[str]:
        """The answers this version can give (listed on the demo page)."""
        return []

    def accepts_label(self, label: str) -> bool:
        """Whether an evaluation set may label photos ``label`` (besides the
        labels of photos to refuse, such as "neither")."""
        return label.strip().casefold() in {a.casefold() for a in self.answers()}

    def corrections(self) -> list[tuple[str, str]]:
        """What a person flagging a wrong answer may say it should have been:
        (label as an evaluation set names its folder, text shown), the photos
        to refuse included. Empty: they write it (free text)."""
        return [(answer, answer) for answer in self.answers()]

    def validate(
        self,
        path,
        *,
        examples: Sequence[Image.Image],
        evaluation: Sequence[LabelledPhoto] | None,
        evaluation_name: str = "",
    ) -> ValidationReport:
        """Open an uploaded artifact safely and check it; raise ValidationFailed.

        ``examples`` are the demo's example photos, ``evaluation`` its
        labelled evaluation set (None when it has none).
        """
        raise NotImplementedError

    def latency(self, model, image: Image.Image) -> dict:
        """Median time of one answer, after two warm-up runs."""
        for _ in range(2):
            self.run(model, image)
        timings = []
        for _ in range(LATENCY_RUNS):
            started = time.perf_counter()
            self.run(model, image)
            timings.append((time.perf_counter() - started) * 1000)
        return {"latency_p50_ms": round(statistics.median(timings), 1)}
