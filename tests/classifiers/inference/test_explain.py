import io

import numpy as np
import pytest
from django.conf import settings
from PIL import Image

from classifiers.catalog import CAT_CLASSES, DOG_CLASSES, imagenet_labels
from classifiers.inference.explain import ExplainableClassifier, heatmap_png
from classifiers.inference.imagenet import ImagenetSubsetPipeline
from tests.conftest import EXAMPLES

LITE0_SPEC = {"size": 224, "preprocessing": "lite", "crop": 0.875, "resample": "bicubic"}


def test_the_heatmap_is_a_transparent_png_the_size_of_the_photo():
    cam = np.ones((7, 7)).tolist()  # hot everywhere the network looked
    png = heatmap_png(cam, (200, 100), [0.25, 0.0, 0.75, 1.0])
    overlay = Image.open(io.BytesIO(png))
    assert (overlay.format, overlay.mode, overlay.size) == ("PNG", "RGBA", (200, 100))
    alpha = np.asarray(overlay)[..., 3]
    # Outside the centre crop the network saw nothing: fully see-through there.
    assert not alpha[:, :50].any()
    assert not alpha[:, 150:].any()
    assert (alpha[:, 50:150] > 0).all()


def test_a_cold_heatmap_leaves_the_photo_visible():
    png = heatmap_png(np.zeros((7, 7)).tolist(), (64, 48), [0.0, 0.0, 1.0, 1.0])
    assert not np.asarray(Image.open(io.BytesIO(png)))[..., 3].any()


@pytest.fixture(scope="module")
def lite0():
    from classifiers.inference.runtime import load_keras_model

    return load_keras_model(settings.ML_MODELS_DIR / "efficientnet_lite0.keras")


def test_explaining_gives_the_same_probabilities_as_predicting_and_a_normalised_map(lite0):
    pipeline = ImagenetSubsetPipeline(
        labels=imagenet_labels(),
        spec=LITE0_SPEC,
        config={"groups": {"cat": CAT_CLASSES, "dog": DOG_CLASSES}},
        calibration={},
    )
    batch = pipeline.preprocess(Image.open(EXAMPLES / "cat.jpg").convert("RGB"))

    probabilities, cam = ExplainableClassifier(lite0).explain(batch, *pipeline.explanation_target())

    np.testing.assert_allclose(probabilities, lite0.predict_on_batch(batch), atol=1e-5)
    assert cam.ndim == 2 and cam.shape[0] > 1
    assert cam.min() >= 0.0
    assert cam.max() == pytest.approx(1.0)


def test_with_flip_the_heatmap_is_of_the_photo_as_it_is(lite0):
    config = {"groups": {"cat": CAT_CLASSES, "dog": DOG_CLASSES}}
    plain = ImagenetSubsetPipeline(labels=imagenet_labels(), spec=LITE0_SPEC, config=config)
    flip = ImagenetSubsetPipeline(
        labels=imagenet_labels(), spec={**LITE0_SPEC, "tta": "flip"}, config=config
    )
    photo = Image.open(EXAMPLES / "cat.jpg").convert("RGB")
    explainer = ExplainableClassifier(lite0)

    one, cam_one = explainer.explain(plain.preprocess(photo), *plain.explanation_target())
    two, cam_two = explainer.explain(flip.preprocess(photo), *flip.explanation_target())

    assert two.shape == (2, 1000)
    np.testing.assert_allclose(two[:1], one, atol=1e-5)
    # Both pick "cat"; the map comes from the unmirrored view only (the
    # mirrored one's gradient does not reach it), so it is the same map.
    np.testing.assert_allclose(cam_two, cam_one, atol=1e-4)
    assert flip.run(explainer, photo).label == "cat"
