import csv

import numpy as np
import pytest

from classifiers.catalog import CAT_CLASSES, DOG_CLASSES, imagenet_labels
from classifiers.inference.pipelines import ImagenetSubsetPipeline
from tests.conftest import PETS, needs_pets

SPEC = {"size": 224, "preprocessing": "lite", "crop": 1.0, "resample": "bicubic"}


def cats_vs_dogs() -> ImagenetSubsetPipeline:
    return ImagenetSubsetPipeline(
        labels=imagenet_labels(),
        spec=SPEC,
        config={"groups": {"cat": CAT_CLASSES, "dog": DOG_CLASSES}},
    )


def test_it_sums_the_probabilities_of_each_group():
    p = np.zeros((1, 1000))
    p[0, 281], p[0, 285] = 0.2, 0.1  # two cat classes
    p[0, 151] = 0.4  # Chihuahua
    p[0, 0] = 0.3  # tench, neither
    outcome = cats_vs_dogs().postprocess(p)
    assert outcome.label == "dog"
    assert outcome.score == pytest.approx(0.4)
    assert outcome.top == [
        {"label": "dog", "score": pytest.approx(0.4)},
        {"label": "cat", "score": pytest.approx(0.3)},
    ]
    assert outcome.details["other"] == pytest.approx(0.3)
    assert outcome.details["imagenet_top5"][0]["label"] == "Chihuahua"


def test_it_refuses_non_finite_model_outputs():
    class NanModel:
        def predict_on_batch(self, batch):
            return np.full((1, 1000), np.nan)

    pipeline = cats_vs_dogs()
    with pytest.raises(ValueError, match="non-finite"):
        pipeline.predict(NanModel(), np.zeros((1, 224, 224, 3), np.float32))


def test_preprocess_gives_the_model_input_shape_and_range():
    from PIL import Image

    batch = cats_vs_dogs().preprocess(Image.new("RGB", (300, 200), (255, 0, 127)))
    assert batch.shape == (1, 224, 224, 3)
    assert batch.max() == pytest.approx((255 - 127) / 128)
    assert batch.min() == pytest.approx(-127 / 128)


@needs_pets
def test_it_calls_every_pets_cat_a_cat_and_every_dog_a_dog():
    from django.conf import settings
    from PIL import Image

    from classifiers.inference.runtime import load_keras_model

    model = load_keras_model(settings.ML_MODELS_DIR / "efficientnet_lite0.keras")
    pipeline = cats_vs_dogs()
    with (PETS / "labels.csv").open() as f:
        rows = [r for r in csv.DictReader(f) if r["cat_dog_neither"] in ("cat", "dog")]
    wrong = []
    for row in rows:
        image = Image.open(PETS / row["path"]).convert("RGB")
        outcome = pipeline.postprocess(pipeline.predict(model, pipeline.preprocess(image)))
        if outcome.label != row["cat_dog_neither"]:
            wrong.append((row["path"], outcome.label))
    assert len(rows) == 33
    assert wrong == []
