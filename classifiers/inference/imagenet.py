"""The ``imagenet-subset`` kind: an ImageNet-1k classifier read through some of its classes.

Cats vs dogs answers with a group; dog breeds ranks within the dog classes.
Both decide first with the same fitted rule whether the photo shows a cat, a
dog or neither (``calibration.decide``), so with the same network the two
demos never disagree on what is a dog. Grad-CAM comes out of the same
forward pass as the answer.
"""

from __future__ import annotations

import logging
import re
import zipfile
from collections.abc import Sequence

import numpy as np
from PIL import Image

from classifiers.inference import calibration as fitted
from classifiers.inference import evaluation as measuring  # `evaluation` names a set below
from classifiers.inference.archives import KERAS_LIMITS, verify_members
from classifiers.inference.calibration import NEITHER, BinaryCalibration, log_odds
from classifiers.inference.pipelines import (
    LATENCY_RUNS,
    LabelledPhoto,
    Outcome,
    Pipeline,
    ValidationFailed,
    ValidationReport,
)
from classifiers.inference.preprocessing import (
    SIZE_RANGE,
    centre_crop_box,
    merge_views,
    model_views,
    validate_spec,
    view_count,
)
from classifiers.inference.refusals import Refused

logger = logging.getLogger(__name__)

BATCH_PHOTOS = 16  # photos per forward pass when many are measured at once


class ImagenetSubsetPipeline(Pipeline):
    """An ImageNet-1k classifier read through a subset of its classes.

    ``config["groups"]`` maps an answer to inclusive ImageNet index ranges
    (cat 281-285; dog 151-268 and 273-275). With two groups the version's
    calibration decides between them, or neither (``calibration.decide``).
    With ``config["rank_within"]`` set (dog breeds) the answer is the best
    class inside that group, given only when the rule says that group; the
    other group is refused with ``config["reject_reasons"][group]`` ("This
    is a cat, not a dog.") and neither with ``config["reject_reason"]``.
    """

    kind = "imagenet-subset"
    title = "ImageNet subset"
    artifact_suffix = ".keras"
    result_template = "classifiers/results/imagenet.html"
    spec_form = "image"

    def __init__(self, **kwargs) -> None:
        super().__init__(**kwargs)
        self.groups = {
            name: np.concatenate([np.arange(lo, hi + 1) for lo, hi in ranges])
            for name, ranges in self.config["groups"].items()
        }
        self.within = self.config.get("rank_within")
        self.display_names = self.config.get("display_names", {})
        self.views = view_count(self.spec) if self.spec else 1

    @classmethod
    def check_spec(cls, spec: dict) -> None:
        try:
            validate_spec(spec, size_optional=True)  # else read from the model
        except ValueError as exc:
            raise Refused(f"Input spec: {exc}.", code="bad_spec") from exc

    @staticmethod
    def load_model(path):
        from classifiers.inference.explain import ExplainableClassifier
        from classifiers.inference.runtime import load_keras_model

        return ExplainableClassifier(load_keras_model(path))

    # -- the three steps -------------------------------------------------
    def preprocess(self, image: Image.Image) -> np.ndarray:
        """The photo's views as a batch (two with ``"tta": "flip"``)."""
        return model_views(image, self.spec)

    def predict(self, model, batch: np.ndarray) -> np.ndarray:
        """One row of probabilities per photo (its views averaged)."""
        return merge_views(_checked(model.predict_on_batch(batch)), self.views)

    def postprocess(self, probabilities: np.ndarray) -> Outcome:
        p = np.asarray(probabilities, dtype=np.float64)[0]
        if self.within:
            return self._rank_within(p)
        return self._pick_group(p)

    def run(self, model, image: Image.Image) -> Outcome:
        """Predict and explain in one pass of the network (Grad-CAM of the
        photo as it is; with flip TTA the answer is the views' average)."""
        return self.run_batch(model, [image])[0]

    def run_batch(self, model, images: Sequence[Image.Image]) -> list[Outcome]:
        """Several photos in one forward pass, Grad-CAM included; each answer
        the same as ``run`` on that photo alone."""
        if not hasattr(model, "explain_batch"):
            return [super(ImagenetSubsetPipeline, self).run(model, image) for image in images]
        batch = np.concatenate([self.preprocess(image) for image in images])
        probabilities, cams = model.explain_batch(
            batch, *self.explanation_target(), views=self.views
        )
        per_photo = merge_views(_checked(probabilities), self.views)
        outcomes = []
        for i, (image, cam) in enumerate(zip(images, cams, strict=True)):
            outcome = self.postprocess(per_photo[i : i + 1])
            if outcome.status == "done" and cam is not None:
                outcome.details["heatmap"] = np.round(cam, 3).tolist()
                outcome.details["crop_box"] = _crop_fraction(image, self.spec)
            outcomes.append(outcome)
        return outcomes

    def probabilities(self, model, images: Sequence[Image.Image]) -> np.ndarray:
        """One row per photo, as ``predict`` gives it, a few photos per forward
        pass (for measuring many photos without holding them all in memory)."""
        rows = []
        for start in range(0, len(images), BATCH_PHOTOS):
            chunk = images[start : start + BATCH_PHOTOS]
            batch = np.concatenate([self.preprocess(image) for image in chunk])
            rows.append(merge_views(_checked(model.predict_on_batch(batch)), self.views))
        return np.concatenate(rows) if rows else np.zeros((0, len(self.labels)))

    # -- the rule: cat, dog or neither -------------------------------------
    def group_sums(self, probabilities: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """p(first group), p(second group) per row (zeros when there is one group)."""
        p = np.atleast_2d(np.asarray(probabilities, dtype=np.float64))
        sums = [p[:, idx].sum(axis=1) for idx in self.groups.values()]
        return sums[0], (sums[1] if len(sums) > 1 else np.zeros_like(sums[0]))

    @property
    def mapping(self) -> BinaryCalibration:
        return BinaryCalibration(**self.calibration.get("map", {"a": 1.0, "b": 0.0}))

    @property
    def shift(self) -> float:
        """The prior shift in log-odds space (the map's ``b / a``)."""
        mapping = self.mapping
        return mapping.b / mapping.a if mapping.a > 0 else 0.0

    def decide(self, probabilities: np.ndarray) -> np.ndarray:
        """The group index of each row (0, 1) or NEITHER."""
        first, second = self.group_sums(probabilities)
        return fitted.decide(
            first, second, threshold=self.calibration.get("threshold", 0.0), shift=self.shift
        )

    def truth_code(self, label: str) -> tuple[int, int | None]:
        """A photo's label -> (its group index or NEITHER, its member index within
        the ranked group or None): how fitting reads an evaluation set."""
        wanted = label.strip().casefold()
        names = list(self.groups)
        for index, name in enumerate(names):
            if wanted == name.casefold():
                return index, None
        if self.within:
            member = self.member_index().get(wanted)
            if member is not None:
                return names.index(self.within), member
        return NEITHER, None

    def member_index(self) -> dict[str, int]:
        """Display and ImageNet names (casefolded) of the ranked group's classes ->
        their position in the group."""
        index: dict[str, int] = {}
        for position, i in enumerate(self.groups[self.within]):
            index.setdefault(self.labels[i].casefold(), position)
            index.setdefault(self.display_name(i).casefold(), position)
        return index

    # -- answers ---------------------------------------------------------
    def display_name(self, index: int) -> str:
        label = self.labels[index]
        return self.display_names.get(label, label)

    def _guesses(self, p: np.ndarray, n: int = 3) -> list[dict]:
        return [
            {"label": self.display_name(i), "score": float(p[i])} for i in np.argsort(p)[::-1][:n]
        ]

    def _refusal(self, details: dict, top: list[dict] | None = None, reason: str = "") -> Outcome:
        """The honest answer when the rule does not say one of this demo's answers."""
        return Outcome(
            status="rejected",
            label=None,
            score=None,
            top=top or [],
            reason=reason or self.config.get("reject_reason", "Not sure what this is."),
            details=details,
        )

    def _group_probabilities(self, p: np.ndarray) -> dict[str, float]:
        """Calibrated probability of each of two groups, given it is one of them."""
        names = list(self.groups)
        first, second = self.group_sums(p)
        prob_first = float(self.mapping.probability(log_odds(first[0], second[0])))
        return {names[0]: prob_first, names[1]: 1.0 - prob_first}

    def _pick_group(self, p: np.ndarray) -> Outcome:
        names = list(self.groups)
        first, second = self.group_sums(p)
        details = {"evidence": float(first[0] + second[0]), "imagenet_top": self._guesses(p)}
        code = int(self.decide(p)[0])
        if code == NEITHER:
            raw = [{"label": names[0], "score": float(first[0])}]
            if len(names) > 1:
                raw.append({"label": names[1], "score": float(second[0])})
            return self._refusal(details, top=raw)
        if len(names) == 1:
            top = [{"label": names[0], "score": float(first[0])}]
        else:
            probs = self._group_probabilities(p)
            other = names[1 - code]
            top = [
                {"label": names[code], "score": probs[names[code]]},
                {"label": other, "score": probs[other]},
            ]
        return Outcome(
            status="done", label=top[0]["label"], score=top[0]["score"], top=top, details=details
        )

    def _rank_within(self, p: np.ndarray) -> Outcome:
        names = list(self.groups)
        members = self.groups[self.within]
        first, second = self.group_sums(p)
        details = {"evidence": float(first[0] + second[0]), "imagenet_top": self._guesses(p)}
        code = int(self.decide(p)[0])
        if code == NEITHER:
            return self._refusal(details)
        if names[code] != self.within:
            details["group"] = names[code]
            reason = self.config.get("reject_reasons", {}).get(names[code], "")
            return self._refusal(details, reason=reason)
        if len(names) > 1:
            details["group_confidence"] = self._group_probabilities(p)[self.within]
        evidence = float(p[members].sum())
        within = fitted.soften(p[members] / evidence, self.calibration.get("temperature", 1.0))
        order = np.argsort(within)[::-1][: self.config.get("top_k", 3)]
        top = [{"label": self.display_name(members[i]), "score": float(within[i])} for i in order]
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
        groups = list(self.groups.values())[:2]
        rows = np.zeros((len(groups), len(self.labels)), np.float32)
        for row, idx in enumerate(groups):
            rows[row, idx] = 1.0
        # first when log p_first + shift >= log p_second, as calibration.decide says
        bias = np.array([self.shift, 0.0][: len(groups)], np.float32)
        return rows, bias

    def answers(self) -> list[str]:
        """The answers this demo can give (the breed list on the dog page)."""
        if self.within:
            return sorted(
                (self.display_name(i) for i in self.groups[self.within]), key=str.casefold
            )
        return list(self.groups)

    def accepts_label(self, label: str) -> bool:
        """An evaluation-set folder may use a display name or ImageNet's own; dog
        breeds also takes the other group's name ("cat": photos it must refuse
        as cats, which fit the cat-or-dog rule as cats-vs-dogs fits it)."""
        if self.within and label.strip().casefold() == self.within.casefold():
            return False  # a dog without its breed cannot tell a right breed from a wrong one
        return self.truth_code(label)[0] != NEITHER

    def corrections(self) -> list[tuple[str, str]]:
        """The answers, then the refusal: "not a dog" for dog breeds, "neither"
        (shown "not a cat or dog") for the groups (both read as photos to refuse)."""
        if self.within:
            return [(a, a) for a in self.answers()] + [("not a dog", f"not a {self.within}")]
        names = self.answers()
        return [(a, a) for a in names] + [("neither", f"not a {' or '.join(names)}")]

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
        size, read_from_model = self._input_size(model)
        if read_from_model:
            self.spec = {**self.spec, "size": size}
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
            sums = p.sum(axis=-1)
            worst = float(sums[np.argmax(np.abs(sums - 1))])
            if p.min() < -1e-6 or p.max() > 1 + 1e-6 or abs(worst - 1) > 1e-3:
                raise ValidationFailed(
                    "The model's outputs are not probabilities (they must be in [0, 1] and sum "
                    f"to 1; got a sum of {worst:.3f}). End the network with a softmax."
                )
        metrics: dict = {"architecture": describe_keras_model(model)}
        calibration: dict = {}
        summary = "Loads safely; shapes and example outputs are sane."
        if read_from_model:
            summary += f" Input size {size}×{size} read from the model."
        if evaluation:
            measured, calibration = self._evaluate(loaded, evaluation, evaluation_name)
            metrics.update(measured)
            summary += f" Fitted and measured on evaluation set “{evaluation_name}”."
        else:
            summary += " No evaluation set for this demo yet: accuracy not measured."
        self.calibration = calibration
        metrics.update(self.latency(loaded, examples[0]))
        metrics.setdefault("figures", []).append(
            measuring.latency_figure(
                metrics["latency_p50_ms"],
                runs=LATENCY_RUNS,
                measured_on="the validating worker, one photo at a time",
            )
        )
        return ValidationReport(
            metrics=metrics,
            calibration=calibration,
            summary=summary,
            input_spec=self.spec if read_from_model else None,
        )

    def _input_size(self, model) -> tuple[int, bool]:
        """The side of the square photos the model takes, and whether it was
        read from the model (the upload left it out) rather than given."""
        shape = tuple(model.inputs[0].shape)
        if len(model.inputs) != 1 or len(shape) != 4 or shape[-1] != 3:
            raise ValidationFailed(
                f"The model must take one batch of RGB photos, (None, height, width, 3); "
                f"it takes {shape}."
            )
        height, width = shape[1], shape[2]
        given = self.spec.get("size")
        if height is None or width is None:
            if given is None:
                raise ValidationFailed(
                    "The model takes photos of any size, so the size it was trained on cannot "
                    "be read from it: upload it again and give that size."
                )
            return given, False
        if height != width:
            raise ValidationFailed(
                f"The model takes {height}×{width} photos; only square inputs are served."
            )
        if given is None:
            low, high = SIZE_RANGE
            if not low <= height <= high:
                raise ValidationFailed(
                    f"The model takes {height}×{height} photos; sizes from {low} to {high} "
                    "are served."
                )
            return int(height), True
        if given != height:
            raise ValidationFailed(
                f"The model takes {height}×{height} photos (input {shape}); the size given "
                f"with the upload is {given}. Leave the size out to use the model's own."
            )
        return given, False

    def _evaluate(self, loaded, photos: Sequence[LabelledPhoto], name: str) -> tuple[dict, dict]:
        """Fit on one half of the evaluation set and measure on the other, as
        bench/calibrate.py does on the shared photos (evaluation.py)."""
        probabilities = self.probabilities(loaded, [photo.image for photo in photos])
        truth = [photo.label for photo in photos]
        fit_idx, test_idx = measuring.split_for_fitting([photo.name for photo in photos])
        split = bool(fit_idx and test_idx)
        if not split:
            fit_idx = test_idx = list(range(len(photos)))  # too small to split
        calibration = measuring.fit_calibration(
            self,
            probabilities[fit_idx],
            [truth[i] for i in fit_idx],
            described=f"{len(fit_idx)} photos of evaluation set “{name}”",
        )
        self.calibration = calibration
        metrics = measuring.measure(
            self,
            probabilities[test_idx],
            [truth[i] for i in test_idx],
            described=(
                f"the other half of evaluation set “{name}” (not used for fitting)"
                if split
                else f"evaluation set “{name}”, the same photos it was fitted on (too few to split)"
            ),
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
        # Keras' messages quote configs, file paths and stack frames: staff
        # read a plain reason; the details go to the worker's log.
        logger.warning("keras refused to load %s", path, exc_info=True)
        text = str(exc)
        if "safe_mode" in text or "Lambda" in text or "lambda" in text:
            raise ValidationFailed(
                "Refused: the model contains code (a Lambda layer or another arbitrary "
                "Python function). Only built-in Keras layers are accepted."
            ) from exc
        unknown = _UNKNOWN_OBJECT.search(text)
        if unknown or "Unknown" in text or "custom" in text.lower():
            name = f" ({unknown.group(1)})" if unknown else ""
            raise ValidationFailed(
                f"Refused: the model uses a custom layer or object{name} that Keras does not "
                "know. Only built-in Keras layers are accepted."
            ) from exc
        raise ValidationFailed(
            "Keras could not load the model. Save it with Keras 3 as a single .keras file "
            "(model.save('name.keras')) and upload that file; the details are in the "
            "worker's log."
        ) from exc


# "Could not locate class 'Foo'", "Unknown layer: 'Foo'": the name, never the rest.
_UNKNOWN_OBJECT = re.compile(
    r"(?:Could not locate (?:class|function)|Unknown (?:layer|object)[a-z ]*:?)\s*'([\w.>]{1,80})'"
)


def describe_keras_model(model) -> dict:
    """What the uploaded network is, read from the loaded model: shown on the
    model card while it is served, in place of the shipped networks' text."""
    shape = tuple(model.inputs[0].shape)
    outputs = tuple(model.outputs[0].shape)
    parameters = int(model.count_params())
    layers = len(model.layers)
    kind = type(model).__name__
    side = f"{shape[1]}×{shape[2]}" if shape[1] is not None else "any-size"
    summary = (
        f"A Keras {kind.lower()} model, {layers} layers and {_count(parameters)} parameters; "
        f"it takes {side} RGB photos and gives {outputs[-1]} probabilities."
    )
    return {
        "summary": summary,
        "class": kind,
        "name": str(model.name)[:120],
        "layers": layers,
        "parameters": parameters,
        "input": list(shape[1:]),
        "outputs": outputs[-1],
    }


def _count(n: int) -> str:
    if n >= 1_000_000:
        return f"{n / 1_000_000:.1f} million"
    if n >= 1_000:
        return f"{n / 1_000:.0f} thousand"
    return str(n)


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
