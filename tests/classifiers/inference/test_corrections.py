"""What a person may say a wrong answer should have been, per demo kind
(the flag form's list): the answers and the refusal, or free text."""

from classifiers.inference.evaluation import is_target
from classifiers.inference.kinds import pipeline_class

LABELS = [f"class {i}" for i in range(1000)]


def _imagenet(**config):
    groups = {"cat": [[281, 285]], "dog": [[151, 268]]}
    return pipeline_class("imagenet-subset")(config={"groups": groups, **config}, labels=LABELS)


def test_cats_vs_dogs_offers_its_answers_and_neither():
    assert _imagenet().corrections() == [
        ("cat", "cat"),
        ("dog", "dog"),
        ("neither", "not a cat or dog"),
    ]


def test_dog_breeds_offers_its_breeds_and_not_a_dog():
    choices = _imagenet(rank_within="dog").corrections()
    assert len(choices) == 118 + 1
    assert choices[-1] == ("not a dog", "not a dog")
    assert ("class 151", "class 151") in choices


def test_each_refusal_reads_as_a_photo_to_refuse():
    for pipeline in (_imagenet(), _imagenet(rank_within="dog")):
        label = pipeline.corrections()[-1][0]
        assert not is_target(label)


def test_each_answer_is_one_an_evaluation_set_accepts():
    for pipeline in (_imagenet(), _imagenet(rank_within="dog")):
        for label, _text in pipeline.corrections():
            assert pipeline.accepts_label(label) or not is_target(label), label


def test_the_lookalike_takes_free_text():
    assert pipeline_class("face-lookalike")(config={}, labels=[]).corrections() == []
