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


class ImagenetSubsetPipeline:
    """An ImageNet-1k classifier read through a subset of its classes.

    ``config["groups"]`` maps an answer to inclusive ImageNet index ranges
    (cats-vs-dogs: cat 281-285, dog 151-268); the answer's probability is the
    sum over its classes.
    """

    def __init__(self, *, labels: list[str], spec: dict, config: dict) -> None:
        self.labels = labels
        self.spec = spec
        self.config = config
        self.groups = {
            name: np.concatenate([np.arange(lo, hi + 1) for lo, hi in ranges])
            for name, ranges in config["groups"].items()
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


PIPELINES = {"imagenet-subset": ImagenetSubsetPipeline}


def pipeline_for(demo, version):
    return PIPELINES[demo.kind](labels=version.labels, spec=version.input_spec, config=demo.config)


def run_pipeline(demo, version, image: Image.Image) -> Outcome:
    """Run ``demo`` on one image with ``version``'s model (loaded once per process)."""
    from classifiers.inference.runtime import get_model

    pipeline = pipeline_for(demo, version)
    model = get_model(version)
    return pipeline.postprocess(pipeline.predict(model, pipeline.preprocess(image)))
