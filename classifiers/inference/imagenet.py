"""The ``imagenet-subset`` kind: an ImageNet-1k classifier read through some of its classes.

Cats vs dogs sums the probabilities of each group; dog breeds ranks within the
dog classes. Either way the version's fitted calibration decides when the
evidence is too low to answer at all, and Grad-CAM comes out of the same
forward pass as the answer.
"""

from __future__ import annotations

import zipfile
from collections.abc import Sequence

import numpy as np
from PIL import Image

from classifiers.inference.archives import KERAS_LIMITS, verify_members
from classifiers.inference.calibration import BinaryCalibration, log_odds
from classifiers.inference.pipelines import (
    LabelledPhoto,
    Outcome,
    Pipeline,
    ValidationFailed,
    ValidationReport,
)
from classifiers.inference.preprocessing import centre_crop_box, to_model_input, validate_spec
from classifiers.inference.refusals import Refused


class ImagenetSubsetPipeline(Pipeline):
    """An ImageNet-1k classifier read through a subset of its classes.

    ``config["groups"]`` maps an answer to inclusive ImageNet index ranges
    (cat 281-285, dog 151-268). With ``config["rank_within"]`` set (dog
    breeds) the answer is the best class inside that group; otherwise it is
    the best group. Either way the version's fitted calibration decides when
    the evidence is too low to answer at all (``config["reject_reason"]``).
    """

    kind = "imagenet-subset"
    title = "ImageNet subset"
    artifact_suffix = ".keras"
    result_template = "classifiers/results/imagenet.html"

    def __init__(self, **kwargs) -> None:
        super().__init__(**kwargs)
        self.groups = {
            name: np.concatenate([np.arange(lo, hi + 1) for lo, hi in ranges])
            for name, ranges in self.config["groups"].items()
        }
        self.within = self.config.get("rank_within")
        self.display_names = self.config.get("display_names", {})

    @classmethod
    def check_spec(cls, spec: dict) -> None:
        try:
            validate_spec(spec)
        except ValueError as exc:
            raise Refused(f"Input spec: {exc}.", code="bad_spec") from exc

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

    def answers(self) -> list[str]:
        """The answers this demo can give (the breed list on the dog page)."""
        if self.within:
            return sorted((self._name(i) for i in self.groups[self.within]), key=str.casefold)
        return list(self.groups)

    def accepts_label(self, label: str) -> bool:
        """An evaluation-set folder may use a display name or ImageNet's own."""
        wanted = label.strip().casefold()
        raw = [self.labels[i] for i in self.groups[self.within]] if self.within else []
        return any(wanted == name.casefold() for name in [*self.answers(), *raw])

    # -- validation of an uploaded version ------------------------------------
    def validate(
        self,
        path,
        *,
        examples: Sequence[Image.Image],
        evaluation: Sequence[LabelledPhoto] | None,
        evaluation_name: str = "",
    ) -> ValidationReport:
        loaded = _load_keras_checked(path, self.load_model)
        model = loaded.model
        size = self.spec["size"]
        input_shape = tuple(model.inputs[0].shape)
        if len(model.inputs) != 1 or tuple(input_shape[1:]) != (size, size, 3):
            raise ValidationFailed(
                f"The model takes input {input_shape}; the spec says (None, {size}, {size}, 3)."
            )
        output_shape = tuple(model.outputs[0].shape)
        if len(model.outputs) != 1 or tuple(output_shape[1:]) != (len(self.labels),):
            raise ValidationFailed(
                f"The model has output {output_shape} but {len(self.labels)} labels were given."
            )
        needed = max(int(idx.max()) for idx in self.groups.values()) + 1
        if len(self.labels) < needed:
            raise ValidationFailed(
                f"This demo reads ImageNet classes up to {needed - 1}; the model has "
                f"{len(self.labels)} outputs."
            )
        examples = list(examples) or [Image.new("RGB", (size, size), (127, 127, 127))]
        for image in examples:
            p = np.asarray(loaded.predict_on_batch(self.preprocess(image)), dtype=np.float64)
            if not np.all(np.isfinite(p)):
                raise ValidationFailed("The model produced NaN or infinite outputs on an example.")
            if p.min() < -1e-6 or p.max() > 1 + 1e-6 or abs(p.sum() - 1) > 1e-3:
                raise ValidationFailed(
                    "The model's outputs are not probabilities (they must be in [0, 1] and sum "
                    f"to 1; got a sum of {p.sum():.3f}). End the network with a softmax."
                )
        metrics: dict = {}
        calibration: dict = {}
        summary = "Loads safely; shapes and example outputs are sane."
        if evaluation:
            metrics, calibration = self._evaluate(loaded, evaluation, evaluation_name)
            summary += f" Fitted and measured on evaluation set “{evaluation_name}”."
        else:
            summary += " No evaluation set for this demo yet: accuracy not measured."
        self.calibration = calibration
        metrics.update(self.latency(loaded, examples[0]))
        return ValidationReport(metrics=metrics, calibration=calibration, summary=summary)

    def _evaluate(self, loaded, photos: Sequence[LabelledPhoto], name: str) -> tuple[dict, dict]:
        from classifiers.inference import evaluation

        batch = np.concatenate([self.preprocess(photo.image) for photo in photos])
        probabilities = np.asarray(loaded.model.predict(batch, batch_size=16, verbose=0))
        truth = [photo.label for photo in photos]
        fit_idx, test_idx = evaluation.split_for_fitting([photo.name for photo in photos])
        if not fit_idx or not test_idx:
            fit_idx = test_idx = list(range(len(photos)))  # too small to split
        calibration = evaluation.fit_calibration(
            self,
            probabilities[fit_idx],
            [truth[i] for i in fit_idx],
            described=f"{len(fit_idx)} photos of evaluation set “{name}”",
        )
        self.calibration = calibration
        metrics = evaluation.measure(
            self,
            probabilities[test_idx],
            [truth[i] for i in test_idx],
            described=f"the other {len(test_idx)} photos of evaluation set “{name}”",
        )
        return metrics, calibration


def _load_keras_checked(path, loader):
    """Open an uploaded .keras file with Keras' safe mode, saying why it is refused."""
    if not zipfile.is_zipfile(path):
        raise ValidationFailed("The file is not a valid .keras archive (a .keras file is a zip).")
    # Keras reads config.json whole into memory and guards only members over
    # 4 GiB: every member is checked (declared sizes, ratio, then inflated
    # and discarded under a hard cap, CRC) before Keras opens the file.
    try:
        with open(path, "rb") as archive:
            verify_members(archive, KERAS_LIMITS)
    except Refused as exc:
        raise ValidationFailed(f"Refused before loading: {exc.message}") from exc
    try:
        return loader(path)
    except Exception as exc:
        text = str(exc)
        if "safe_mode" in text or "Lambda" in text or "lambda" in text:
            raise ValidationFailed(
                "Refused: the model contains code (a Lambda layer or another arbitrary "
                "Python function). Only built-in Keras layers are accepted."
            ) from exc
        if "Unknown" in text or "custom" in text.lower() or "Could not locate" in text:
            raise ValidationFailed(
                f"Refused: the model uses a custom object Keras does not know ({text[:300]})."
            ) from exc
        raise ValidationFailed(f"The model could not be loaded: {text[:500]}") from exc


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
