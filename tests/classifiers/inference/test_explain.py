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


def test_the_heatmap_is_a_small_transparent_png_of_the_grid():
    cam = np.zeros((7, 7))
    cam[3, 3] = 1.0  # hot in the middle only
    overlay = Image.open(io.BytesIO(heatmap_png(cam.tolist())))
    assert (overlay.format, overlay.mode, overlay.size) == ("PNG", "RGBA", (64, 64))
    alpha = np.asarray(overlay)[..., 3]
    assert alpha[32, 32] > 150  # the hot middle shows
    assert alpha[0, 0] == 0  # cold corners stay see-through


def test_with_the_crop_box_the_heatmap_covers_the_photo_and_fades_beyond_the_box():
    cam = np.full((7, 7), 0.9)  # hot everywhere the network looked, edges included
    # A 4:3 landscape photo whose centre square (87.5% of its height) was seen.
    box = (0.171875, 0.0625, 0.828125, 0.9375)
    overlay = Image.open(io.BytesIO(heatmap_png(cam.tolist(), box=box)))
    assert overlay.size == (64, 48)  # the photo's shape, not the square's
    alpha = np.asarray(overlay)[..., 3].astype(int)
    inside_edge, just_beyond, far_side = alpha[24, 12], alpha[24, 9], alpha[24, 0]
    assert inside_edge > 120  # the box itself shows the map
    assert 0 < just_beyond < inside_edge  # no hard edge: it fades out ...
    assert far_side < just_beyond  # ... further and further
    assert alpha[24, 63 - 9] == just_beyond  # the same on both sides


def test_a_cold_heatmap_leaves_the_photo_visible():
    png = heatmap_png(np.zeros((7, 7)).tolist())
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


def test_a_batch_is_explained_image_by_image_in_one_pass(lite0):
    pipeline = ImagenetSubsetPipeline(
        labels=imagenet_labels(),
        spec=LITE0_SPEC,
        config={"groups": {"cat": CAT_CLASSES, "dog": DOG_CLASSES}},
        calibration={},
    )
    images = [Image.open(EXAMPLES / n).convert("RGB") for n in ("cat.jpg", "dalmatian.jpg")]
    batch = np.concatenate([pipeline.preprocess(image) for image in images])
    explainer = ExplainableClassifier(lite0)
    target = pipeline.explanation_target()

    probabilities, cams = explainer.explain_batch(batch, *target)

    assert probabilities.shape == (2, 1000) and len(cams) == 2
    for i in range(2):  # the same as explaining each photo alone
        alone, cam = explainer.explain(batch[i : i + 1], *target)
        np.testing.assert_allclose(probabilities[i], alone[0], atol=1e-5)
        np.testing.assert_allclose(cams[i], cam, atol=1e-4)
    assert not np.allclose(cams[0], cams[1])


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


@pytest.mark.parametrize("tta", [None, "flip"])
def test_a_micro_batch_answers_each_photo_as_it_would_alone(lite0, tta):
    spec = {**LITE0_SPEC, **({"tta": tta} if tta else {})}
    pipeline = ImagenetSubsetPipeline(
        labels=imagenet_labels(),
        spec=spec,
        config={"groups": {"cat": CAT_CLASSES, "dog": DOG_CLASSES}},
        calibration={},
    )
    explainer = ExplainableClassifier(lite0)
    photos = [Image.open(EXAMPLES / n).convert("RGB") for n in ("cat.jpg", "dalmatian.jpg")]

    together = pipeline.run_batch(explainer, photos)

    for photo, outcome in zip(photos, together, strict=True):
        alone = pipeline.run(explainer, photo)
        assert (outcome.status, outcome.label) == (alone.status, alone.label)
        assert outcome.score == pytest.approx(alone.score, abs=1e-5)
        np.testing.assert_allclose(outcome.details["heatmap"], alone.details["heatmap"], atol=2e-3)
    assert [o.label for o in together] == ["cat", "dog"]
