"""One pipeline per demo kind: preprocess -> predict -> postprocess.

The worker task, the ``predict`` management command and the benchmarks all
call ``run_pipeline``, so what a user sees is what was measured.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np
from PIL import Image

from classifiers.inference.calibration import BinaryCalibration, log_odds
from classifiers.inference.preprocessing import centre_crop_box, to_model_input


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


class Pipeline:
    """What every demo kind provides. ``run`` is the one entry point callers use."""

    kind: str = ""

    def __init__(self, *, demo, version) -> None:
        self.demo = demo
        self.version = version

    @staticmethod
    def load_model(path):
        """Load the version's artifact; called once per process per version."""
        from classifiers.inference.runtime import load_keras_model

        return load_keras_model(path)

    def preprocess(self, image: Image.Image):
        raise NotImplementedError

    def predict(self, model, batch):
        raise NotImplementedError

    def postprocess(self, raw) -> Outcome:
        raise NotImplementedError

    def run(self, model, image: Image.Image) -> Outcome:
        return self.postprocess(self.predict(model, self.preprocess(image)))


class ImagenetSubsetPipeline(Pipeline):
    """An ImageNet-1k classifier read through a subset of its classes.

    ``config["groups"]`` maps an answer to inclusive ImageNet index ranges
    (cat 281-285, dog 151-268). With ``config["rank_within"]`` set (dog
    breeds) the answer is the best class inside that group; otherwise it is
    the best group. Either way the version's fitted calibration decides when
    the evidence is too low to answer at all (``config["reject_reason"]``).
    """

    kind = "imagenet-subset"

    def __init__(
        self, *, demo=None, version=None, labels=None, spec=None, config=None, calibration=None
    ) -> None:
        super().__init__(demo=demo, version=version)
        self.labels = labels if labels is not None else version.labels
        self.spec = spec if spec is not None else version.input_spec
        self.config = config if config is not None else demo.config
        if calibration is None:
            calibration = getattr(version, "calibration", None) or {}
        self.calibration = calibration
        self.groups = {
            name: np.concatenate([np.arange(lo, hi + 1) for lo, hi in ranges])
            for name, ranges in self.config["groups"].items()
        }
        self.within = self.config.get("rank_within")
        self.display_names = self.config.get("display_names", {})

    @staticmethod
    def load_model(path):
        from classifiers.inference.explain import ExplainableClassifier
        from classifiers.inference.runtime import load_keras_model

        return ExplainableClassifier(load_keras_model(path))

    # -- the three steps -------------------------------------------------
    def preprocess(self, image: Image.Image) -> np.ndarray:
        return to_model_input(image, self.spec)[None]

    def predict(self, model, batch: np.ndarray) -> np.ndarray:
        return _checked(model.predict_on_batch(batch))

    def postprocess(self, probabilities: np.ndarray) -> Outcome:
        p = np.asarray(probabilities, dtype=np.float64)[0]
        if self.within:
            return self._rank_within(p)
        return self._pick_group(p)

    def run(self, model, image: Image.Image) -> Outcome:
        """Predict and explain in one pass of the network (Grad-CAM)."""
        if not hasattr(model, "explain"):
            return super().run(model, image)
        probabilities, cam = model.explain(self.preprocess(image), *self.explanation_target())
        outcome = self.postprocess(_checked(probabilities))
        if outcome.status == "done" and cam is not None:
            outcome.details["heatmap"] = np.round(cam, 3).tolist()
            outcome.details["crop_box"] = _crop_fraction(image, self.spec)
        return outcome

    # -- answers ---------------------------------------------------------
    def _name(self, index: int) -> str:
        label = self.labels[index]
        return self.display_names.get(label, label)

    def _guesses(self, p: np.ndarray, n: int = 3) -> list[dict]:
        return [{"label": self._name(i), "score": float(p[i])} for i in np.argsort(p)[::-1][:n]]

    def _mapping(self) -> BinaryCalibration:
        return BinaryCalibration(**self.calibration.get("map", {"a": 1.0, "b": 0.0}))

    def _refusal(self, details: dict, top: list[dict] | None = None) -> Outcome:
        """The honest answer when the evidence is below the fitted threshold."""
        return Outcome(
            status="rejected",
            label=None,
            score=None,
            top=top or [],
            reason=self.config.get("reject_reason", "Not sure what this is."),
            details=details,
        )

    def _pick_group(self, p: np.ndarray) -> Outcome:
        (first, first_idx), (second, second_idx) = list(self.groups.items())[:2]
        p_first, p_second = float(p[first_idx].sum()), float(p[second_idx].sum())
        evidence = p_first + p_second
        details = {"evidence": evidence, "imagenet_top": self._guesses(p)}
        if evidence < self.calibration.get("threshold", 0.0):
            raw = [{"label": first, "score": p_first}, {"label": second, "score": p_second}]
            return self._refusal(details, top=raw)
        prob_first = float(self._mapping().probability(log_odds(p_first, p_second)))
        ranked = sorted(
            [{"label": first, "score": prob_first}, {"label": second, "score": 1 - prob_first}],
            key=lambda item: item["score"],
            reverse=True,
        )
        return Outcome(
            status="done",
            label=ranked[0]["label"],
            score=ranked[0]["score"],
            top=ranked,
            details=details,
        )

    def _rank_within(self, p: np.ndarray) -> Outcome:
        members = self.groups[self.within]
        evidence = float(p[members].sum())
        details = {"evidence": evidence, "imagenet_top": self._guesses(p)}
        if evidence < self.calibration.get("threshold", 0.0):
            return self._refusal(details)
        details["group_confidence"] = float(
            self._mapping().probability(log_odds(evidence, max(1.0 - evidence, 0.0)))
        )
        within = p[members] / evidence
        order = np.argsort(within)[::-1][: self.config.get("top_k", 3)]
        top = [{"label": self._name(members[i]), "score": float(within[i])} for i in order]
        return Outcome(
            status="done", label=top[0]["label"], score=top[0]["score"], top=top, details=details
        )

    def explanation_target(self) -> tuple[np.ndarray, np.ndarray]:
        """Candidate answers as rows over the 1000 classes, plus a log-space bias
        per row, so the network can pick (and explain) the answer in-graph the
        same way ``postprocess`` will."""
        if self.within:
            members = self.groups[self.within]
            rows = np.zeros((len(members), len(self.labels)), np.float32)
            rows[np.arange(len(members)), members] = 1.0
            return rows, np.zeros(len(members), np.float32)
        rows = np.zeros((2, len(self.labels)), np.float32)
        for row, idx in enumerate(list(self.groups.values())[:2]):
            rows[row, idx] = 1.0
        mapping = self.calibration.get("map", {"a": 1.0, "b": 0.0})
        # sigmoid(a*z + b) >= 0.5  <=>  log p_first + b/a >= log p_second (for a > 0)
        return rows, np.array([mapping["b"] / max(mapping["a"], 1e-6), 0.0], np.float32)

    def known_labels(self) -> list[str]:
        """The answers this demo can give (the breed list on the dog page)."""
        if self.within:
            return sorted(self._name(i) for i in self.groups[self.within])
        return list(self.groups)


def _checked(probabilities) -> np.ndarray:
    probabilities = np.asarray(probabilities, dtype=np.float64)
    if not np.all(np.isfinite(probabilities)):
        raise ValueError("the model produced non-finite outputs")
    return probabilities


def _crop_fraction(image: Image.Image, spec: dict) -> list[float]:
    """The part of the photo the network saw, as fractions of width and height."""
    if spec.get("crop", 1.0) == "none":
        return [0.0, 0.0, 1.0, 1.0]
    left, top, right, bottom = centre_crop_box(image, spec.get("crop", 1.0))
    width, height = image.size
    return [left / width, top / height, right / width, bottom / height]


PIPELINES: dict[str, type[Pipeline]] = {ImagenetSubsetPipeline.kind: ImagenetSubsetPipeline}


def pipeline_for(demo, version) -> Pipeline:
    return PIPELINES[demo.kind](demo=demo, version=version)


def run_pipeline(demo, version, image: Image.Image) -> Outcome:
    """Run ``demo`` on one image with ``version``'s model (loaded once per process)."""
    from classifiers.inference.runtime import get_model

    pipeline = pipeline_for(demo, version)
    return pipeline.run(get_model(version, loader=pipeline.load_model), image)


import classifiers.inference.faces  # noqa: E402,F401  (registers "face-lookalike"; it subclasses Pipeline)
