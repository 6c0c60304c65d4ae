"""One pipeline per demo kind: preprocess -> predict -> postprocess.

The worker task, the ``predict`` management command and the benchmarks all
call ``run_pipeline``, so what a user sees is what was measured.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np
from PIL import Image

from classifiers.inference.preprocessing import to_model_input


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

    def blank_input(self):
        """A harmless input to warm a freshly loaded model up."""
        raise NotImplementedError

    def run(self, model, image: Image.Image) -> Outcome:
        return self.postprocess(self.predict(model, self.preprocess(image)))


class ImagenetSubsetPipeline(Pipeline):
    """An ImageNet-1k classifier read through a subset of its classes.

    ``config["groups"]`` maps an answer to inclusive ImageNet index ranges
    (cats-vs-dogs: cat 281-285, dog 151-268); the answer's probability is the
    sum over its classes.
    """

    kind = "imagenet-subset"

    def __init__(self, *, demo=None, version=None, labels=None, spec=None, config=None) -> None:
        super().__init__(demo=demo, version=version)
        self.labels = labels if labels is not None else version.labels
        self.spec = spec if spec is not None else version.input_spec
        self.config = config if config is not None else demo.config
        self.groups = {
            name: np.concatenate([np.arange(lo, hi + 1) for lo, hi in ranges])
            for name, ranges in self.config["groups"].items()
        }

    def preprocess(self, image: Image.Image) -> np.ndarray:
        return to_model_input(image, self.spec)[None]

    def blank_input(self) -> np.ndarray:
        """A batch of one grey image, to warm a model up."""
        return self.preprocess(Image.new("RGB", (self.spec["size"],) * 2, (127, 127, 127)))

    def predict(self, model, batch: np.ndarray) -> np.ndarray:
        probabilities = np.asarray(model.predict_on_batch(batch), dtype=np.float64)
        if not np.all(np.isfinite(probabilities)):
            raise ValueError("the model produced non-finite outputs")
        return probabilities

    def postprocess(self, probabilities: np.ndarray) -> Outcome:
        p = probabilities[0]
        scores = {name: float(p[idx].sum()) for name, idx in self.groups.items()}
        ranked = sorted(scores.items(), key=lambda kv: kv[1], reverse=True)
        best, best_score = ranked[0]
        top_classes = np.argsort(p)[::-1][:5]
        return Outcome(
            status="done",
            label=best,
            score=best_score,
            top=[{"label": name, "score": score} for name, score in ranked],
            details={
                "other": max(0.0, 1.0 - sum(scores.values())),
                "imagenet_top5": [
                    {"label": self.labels[i], "score": float(p[i])} for i in top_classes
                ],
            },
        )


PIPELINES: dict[str, type[Pipeline]] = {ImagenetSubsetPipeline.kind: ImagenetSubsetPipeline}


def pipeline_for(demo, version) -> Pipeline:
    return PIPELINES[demo.kind](demo=demo, version=version)


def run_pipeline(demo, version, image: Image.Image) -> Outcome:
    """Run ``demo`` on one image with ``version``'s model (loaded once per process)."""
    from classifiers.inference.runtime import get_model

    pipeline = pipeline_for(demo, version)
    return pipeline.run(get_model(version, loader=pipeline.load_model), image)


import classifiers.inference.faces  # noqa: E402,F401  (registers "face-lookalike"; it subclasses Pipeline)
