import csv

import numpy as np
import pytest

from classifiers.catalog import CAT_CLASSES, DOG_CLASSES, imagenet_labels
from classifiers.inference.imagenet import ImagenetSubsetPipeline
from tests.conftest import PETS, needs_pets

SPEC = {"size": 224, "preprocessing": "lite", "crop": 1.0, "resample": "bicubic"}


IDENTITY = {"threshold": 0.0, "map": {"a": 1.0, "b": 0.0}}
LABELS = imagenet_labels()
TABBY, CHIHUAHUA, SHIH_TZU, BASSET, BEAGLE, TENCH = (
    LABELS.index(name) for name in ("tabby", "Chihuahua", "Shih-Tzu", "basset", "beagle", "tench")
)
DOGS = [i for lo, hi in DOG_CLASSES for i in range(lo, hi + 1)]
CATS = [i for lo, hi in CAT_CLASSES for i in range(lo, hi + 1)]


def cats_vs_dogs(calibration: dict | None = None) -> ImagenetSubsetPipeline:
    return ImagenetSubsetPipeline(
        labels=LABELS,
        spec=SPEC,
        config={
            "groups": {"cat": CAT_CLASSES, "dog": DOG_CLASSES},
            "reject_reason": "Neither a cat nor a dog.",
        },
        calibration={} if calibration is None else calibration,
    )


def dog_breeds(calibration: dict | None = None, spec: dict = SPEC) -> ImagenetSubsetPipeline:
    return ImagenetSubsetPipeline(
        labels=LABELS,
        spec=spec,
        config={
            "groups": {"cat": CAT_CLASSES, "dog": DOG_CLASSES},
            "rank_within": "dog",
            "reject_reason": "This is not a dog.",
            "reject_reasons": {"cat": "This is a cat, not a dog."},
            "display_names": {"basset": "basset hound"},
        },
        calibration=IDENTITY if calibration is None else calibration,
    )


def sigmoid(x: float) -> float:
    return 1 / (1 + np.exp(-x))


def test_it_sums_the_probabilities_of_each_group():
    p = np.zeros((1, 1000))
    p[0, 281], p[0, 285] = 0.2, 0.1  # two cat classes
    p[0, 151] = 0.4  # Chihuahua
    p[0, 0] = 0.3  # tench, neither
    outcome = cats_vs_dogs(calibration={}).postprocess(p)
    assert outcome.status == "done"
    assert outcome.label == "dog"
    # Uncalibrated, the answer is each group's share of the cat + dog evidence.
    assert outcome.score == pytest.approx(0.4 / 0.7)
    assert outcome.top == [
        {"label": "dog", "score": pytest.approx(0.4 / 0.7)},
        {"label": "cat", "score": pytest.approx(0.3 / 0.7)},
    ]
    assert outcome.details["evidence"] == pytest.approx(0.7)
    assert outcome.details["imagenet_top"][0]["label"] == "Chihuahua"


def test_it_rejects_a_photo_with_too_little_cat_or_dog_in_it():
    calibration = {"threshold": 0.5, "map": {"a": 1.0, "b": 0.0}}
    p = np.zeros((1, 1000))
    p[0, TABBY], p[0, CHIHUAHUA], p[0, TENCH] = 0.1, 0.2, 0.7
    outcome = cats_vs_dogs(calibration).postprocess(p)
    assert (outcome.status, outcome.label, outcome.score) == ("rejected", None, None)
    assert outcome.reason == "Neither a cat nor a dog."
    assert outcome.details["evidence"] == pytest.approx(0.3)
    assert outcome.details["imagenet_top"][0]["label"] == "tench"


def test_it_answers_when_the_evidence_is_above_the_threshold():
    calibration = {"threshold": 0.5, "map": {"a": 1.0, "b": 0.0}}
    p = np.zeros((1, 1000))
    p[0, TABBY], p[0, CHIHUAHUA], p[0, TENCH] = 0.25, 0.35, 0.4
    outcome = cats_vs_dogs(calibration).postprocess(p)
    assert (outcome.status, outcome.label, outcome.reason) == ("done", "dog", "")


@pytest.mark.parametrize("b, answer", [(0.0, "dog"), (0.25, "dog"), (0.35, "cat"), (2.0, "cat")])
def test_the_prior_shift_turns_a_weak_dog_into_a_cat_when_large_enough(b, answer):
    # ImageNet spreads a cat over many classes, so raw sums under-call "cat";
    # log(0.3 / 0.4) = -0.288, so a shift above that makes this a cat.
    pipeline = cats_vs_dogs({"threshold": 0.0, "map": {"a": 1.0, "b": b}})
    p = np.zeros((1, 1000))
    p[0, TABBY], p[0, CHIHUAHUA], p[0, TENCH] = 0.3, 0.4, 0.3
    outcome = pipeline.postprocess(p)
    p_cat = sigmoid(np.log(0.3 / 0.4) + b)
    assert outcome.label == answer
    assert {item["label"]: item["score"] for item in outcome.top} == {
        "cat": pytest.approx(p_cat),
        "dog": pytest.approx(1 - p_cat),
    }
    # The heatmap explains the same answer: the network picks it in-graph the same way.
    rows, bias = pipeline.explanation_target()
    assert ["cat", "dog"][int(np.argmax(np.log(rows @ p[0] + 1e-9) + bias))] == answer


def test_it_ranks_breeds_among_dogs_only_with_their_human_names():
    p = np.zeros((1, 1000))
    p[0, BASSET], p[0, BEAGLE], p[0, CHIHUAHUA], p[0, SHIH_TZU] = 0.30, 0.20, 0.10, 0.05
    p[0, TENCH] = 0.35  # the likeliest single class, but not a dog
    outcome = dog_breeds({"threshold": 0.5, "map": {"a": 1.0, "b": 0.0}}).postprocess(p)
    assert outcome.status == "done"
    assert (outcome.label, outcome.score) == ("basset hound", pytest.approx(0.30 / 0.65))
    assert outcome.top == [
        {"label": "basset hound", "score": pytest.approx(0.30 / 0.65)},
        {"label": "beagle", "score": pytest.approx(0.20 / 0.65)},
        {"label": "Chihuahua", "score": pytest.approx(0.10 / 0.65)},
    ]
    assert outcome.details["evidence"] == pytest.approx(0.65)
    assert outcome.details["group_confidence"] == pytest.approx(1.0)  # no cat in it at all


def test_it_says_it_is_not_a_dog_below_the_threshold():
    p = np.zeros((1, 1000))
    p[0, BASSET], p[0, TENCH] = 0.3, 0.7
    outcome = dog_breeds({"threshold": 0.5, "map": {"a": 1.0, "b": 0.0}}).postprocess(p)
    assert (outcome.status, outcome.label, outcome.score) == ("rejected", None, None)
    assert outcome.reason == "This is not a dog."
    assert outcome.top == []
    assert outcome.details["imagenet_top"][0]["label"] == "tench"


def test_it_says_a_cat_is_a_cat_not_a_dog():
    p = np.zeros((1, 1000))
    p[0, BASSET], p[0, TABBY] = 0.3, 0.7
    outcome = dog_breeds({"threshold": 0.5, "map": {"a": 1.0, "b": 0.0}}).postprocess(p)
    assert (outcome.status, outcome.label) == ("rejected", None)
    assert outcome.reason == "This is a cat, not a dog."
    assert outcome.details["group"] == "cat"


@pytest.mark.parametrize("b", [0.0, 2.0, 4.0])
def test_the_two_demos_agree_on_what_is_a_dog(b):
    # The same fitted rule decides for both: dog breeds names a breed exactly
    # when cats vs dogs says "dog" (a Samoyed is not "not a dog" on one page
    # and "dog, 100% sure" on the other).
    calibration = {"threshold": 0.3, "map": {"a": 1.5, "b": b}, "temperature": 0.5}
    rng = np.random.default_rng(0)
    for _ in range(300):
        p = rng.dirichlet(np.full(1000, 0.02))[None]
        p[0, rng.choice(DOGS)] += rng.random()
        p[0, rng.choice(CATS)] += rng.random() * 0.5
        p /= p.sum()
        said = cats_vs_dogs(calibration).postprocess(p)
        named = dog_breeds(calibration).postprocess(p)
        assert (said.label == "dog") == (named.status == "done")


def test_the_breed_temperature_changes_how_sure_not_which_breed():
    p = np.zeros((1, 1000))
    p[0, BASSET], p[0, BEAGLE], p[0, CHIHUAHUA] = 0.5, 0.3, 0.2
    plain = dog_breeds({"threshold": 0.1, "map": {"a": 1.0, "b": 0.0}}).postprocess(p)
    softer = dog_breeds(
        {"threshold": 0.1, "map": {"a": 1.0, "b": 0.0}, "temperature": 2.0}
    ).postprocess(p)
    assert [g["label"] for g in softer.top] == [g["label"] for g in plain.top]
    assert plain.score == pytest.approx(0.5)
    # p ** (1 / T), renormalised
    weights = np.sqrt([0.5, 0.3, 0.2])
    assert softer.score == pytest.approx(weights[0] / weights.sum())
    assert sum(g["score"] for g in softer.top) == pytest.approx(1.0)


def test_it_lists_the_breeds_it_knows_by_their_human_names():
    known = dog_breeds().answers()
    assert len(known) == 121  # 118 breeds, and dingo, dhole, African hunting dog
    assert "basset hound" in known and "basset" not in known
    assert "dingo" in known and "dhole" in known and "African hunting dog" in known
    assert known == sorted(known, key=str.casefold)  # "affenpinscher" before "Yorkshire"


def test_an_evaluation_set_may_name_breeds_either_way():
    pipeline = dog_breeds()
    assert pipeline.accepts_label("basset hound") and pipeline.accepts_label("Basset")
    assert not pipeline.accepts_label("tabby")


def test_an_evaluation_set_of_dog_breeds_may_hold_cats_but_not_dogs_without_a_breed():
    pipeline = dog_breeds()
    assert pipeline.accepts_label("cat")
    assert not pipeline.accepts_label("dog")


def test_the_explanation_target_of_cats_vs_dogs_is_two_groups_and_the_prior_shift():
    rows, bias = cats_vs_dogs({"threshold": 0.3, "map": {"a": 2.0, "b": 3.0}}).explanation_target()
    assert rows.shape == (2, 1000) and bias.shape == (2,)
    assert list(np.flatnonzero(rows[0])) == list(range(281, 286))
    assert list(np.flatnonzero(rows[1])) == [*range(151, 269), 273, 274, 275]
    assert set(np.unique(rows)) == {0.0, 1.0}
    assert bias.tolist() == pytest.approx([1.5, 0.0])  # b / a, in log space


def test_the_explanation_target_of_dog_breeds_is_one_row_per_breed():
    rows, bias = dog_breeds().explanation_target()
    assert rows.shape == (121, 1000) and bias.shape == (121,)
    assert (rows.sum(axis=1) == 1).all()
    assert list(rows.argmax(axis=1)) == [*range(151, 269), 273, 274, 275]
    assert not bias.any()


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


FLIP = {**SPEC, "tta": "flip"}


def test_with_flip_it_shows_the_network_the_photo_and_its_mirror_image():
    from PIL import Image

    photo = Image.new("RGB", (300, 300), (0, 0, 0))
    photo.paste((255, 255, 255), (0, 0, 150, 300))  # white on the left
    batch = dog_breeds(spec=FLIP).preprocess(photo)
    assert batch.shape == (2, 224, 224, 3)
    assert batch[0, :, :100].mean() > 0.9 and batch[0, :, -100:].mean() < -0.9
    np.testing.assert_array_equal(batch[1], batch[0][:, ::-1])


def test_with_flip_it_answers_with_the_average_of_the_two_views():
    class TwoViews:
        def predict_on_batch(self, batch):
            assert len(batch) == 2
            p = np.zeros((2, 1000))
            p[0, BASSET], p[0, TENCH] = 0.9, 0.1  # the photo: a basset hound
            p[1, BEAGLE], p[1, TENCH] = 0.7, 0.3  # mirrored: rather a beagle
            return p

    pipeline = dog_breeds({"threshold": 0.5, "map": {"a": 1.0, "b": 0.0}}, spec=FLIP)
    probabilities = pipeline.predict(TwoViews(), np.zeros((2, 224, 224, 3), np.float32))
    assert probabilities.shape == (1, 1000)
    outcome = pipeline.postprocess(probabilities)
    assert outcome.details["evidence"] == pytest.approx(0.8)
    assert (outcome.label, outcome.score) == ("basset hound", pytest.approx(0.45 / 0.8))


def test_an_unknown_test_time_augmentation_is_refused():
    from classifiers.inference.refusals import Refused

    ImagenetSubsetPipeline.check_spec(FLIP)
    with pytest.raises(Refused, match="tta"):
        ImagenetSubsetPipeline.check_spec({**SPEC, "tta": "ten-crop"})


def test_both_demos_serve_one_network_with_one_rule_by_default():
    from classifiers.catalog import DEMOS, version_spec

    served = {}
    for demo in DEMOS:
        if demo["kind"] == "imagenet-subset":
            specs = [version_spec(f) for f in demo["versions"]]
            (served[demo["slug"]],) = [s for s in specs if s.get("default")]
    cats, dogs = served["cats-vs-dogs"], served["dog-breeds"]
    assert (cats["artifact"], cats["input_spec"]) == (dogs["artifact"], dogs["input_spec"])
    for key in ("threshold", "prior_shift", "map"):
        assert cats["calibration"][key] == dogs["calibration"][key]
    assert "temperature" in dogs["calibration"]
