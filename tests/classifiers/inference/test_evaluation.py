"""Fitting and measuring a version on labelled photos (no model, no Django)."""

import numpy as np
import pytest

from classifiers.inference import evaluation
from classifiers.inference.stats import Share
from tests.classifiers.inference.test_imagenet import (
    BASSET,
    BEAGLE,
    TABBY,
    TENCH,
    cats_vs_dogs,
    dog_breeds,
)


def _row(**mass: float) -> np.ndarray:
    p = np.full(1000, 0.0)
    for index, value in mass.items():
        p[int(index[1:])] = value
    p[TENCH] += 1 - p.sum()
    return p


def _photos(rng) -> tuple[np.ndarray, list[str]]:
    """Basset hounds and beagles, cats (spread thin, as ImageNet does), fish."""
    rows, labels = [], []
    for _ in range(40):
        share = rng.uniform(0.5, 0.95)
        breed, name = [(BASSET, "basset hound"), (BEAGLE, "beagle")][rng.integers(2)]
        other = BEAGLE if breed == BASSET else BASSET
        rows.append(_row(**{f"i{breed}": share * 0.8, f"i{other}": share * 0.2}))
        labels.append(name)
        cat = rng.uniform(0.1, 0.4)
        rows.append(_row(**{f"i{TABBY}": cat, f"i{BASSET}": rng.uniform(0.05, 0.3)}))
        labels.append("cat")
        rows.append(_row(**{f"i{BEAGLE}": rng.uniform(0.0, 0.08)}))
        labels.append("neither")
    return np.array(rows), labels


def test_both_demos_fit_the_same_rule_on_the_same_photos():
    probabilities, labels = _photos(np.random.default_rng(0))
    as_dogs = ["dog" if label in ("basset hound", "beagle") else label for label in labels]

    cats = evaluation.fit_calibration(cats_vs_dogs(), probabilities, as_dogs, described="x")
    breeds = evaluation.fit_calibration(dog_breeds(), probabilities, labels, described="x")

    for key in ("threshold", "prior_shift", "map"):
        assert cats[key] == breeds[key]
    assert cats["prior_shift"] > 0  # the thinly spread cats need a push
    assert "temperature" in breeds and "temperature" not in cats
    assert breeds["fit"]["breeds_known"] == 40


def test_measuring_counts_a_refusal_as_wrong_and_every_figure_has_its_size():
    probabilities, labels = _photos(np.random.default_rng(1))
    pipeline = dog_breeds()
    pipeline.calibration = evaluation.fit_calibration(
        pipeline, probabilities, labels, described="fit"
    )
    probabilities[0] = _row(**{f"i{BASSET}": 0.01})  # a basset the network barely sees

    metrics = evaluation.measure(pipeline, probabilities, labels, described="the other half")

    figures = {f["key"]: f for f in metrics["figures"]}
    assert set(figures) == {"accuracy", "top3", "ece", "false_rejection_rate", "rejection_rate"}
    assert figures["accuracy"]["n"] == 40  # the dogs; cats and fish are the others
    assert figures["false_rejection_rate"]["k"] >= 1
    assert figures["rejection_rate"]["n"] == 80
    assert all(f["measured_on"] == "the other half" for f in metrics["figures"])
    assert metrics["accuracy"] == figures["accuracy"]["value"]
    assert metrics["accuracy"] <= 39 / 40
    low, high = figures["ece"]["low"], figures["ece"]["high"]
    assert low <= figures["ece"]["value"] <= high


def test_a_share_figure_carries_what_its_interval_needs():
    figure = evaluation.share_figure(
        "accuracy", "Right answer", Share(747, 800), unit="photos", measured_on="800 photos"
    )
    assert figure == {
        "key": "accuracy",
        "label": "Right answer",
        "value": pytest.approx(0.9338, abs=1e-4),
        "k": 747,
        "n": 800,
        "unit": "photos",
        "format": "percent",
        "interval": True,
        "measured_on": "800 photos",
    }


def test_measuring_keeps_the_reliability_bins_of_the_answered_photos():
    probabilities, labels = _photos(np.random.default_rng(1))
    pipeline = dog_breeds()
    pipeline.calibration = evaluation.fit_calibration(
        pipeline, probabilities, labels, described="fit"
    )

    metrics = evaluation.measure(pipeline, probabilities, labels, described="the other half")

    reliability = metrics["reliability"]
    ece = next(f for f in metrics["figures"] if f["key"] == "ece")
    assert reliability["n"] == ece["n"]  # the same answered photos as the ECE
    assert sum(b["n"] for b in reliability["bins"]) == ece["n"]
    assert reliability["bins_of"] == 10
    assert reliability["measured_on"] == "the other half"
    for b in reliability["bins"]:
        assert 0 <= b["right"] <= b["n"]
        assert b["low"] <= b["confidence"] <= b["high"]


def test_nothing_answered_leaves_no_reliability_bins():
    pipeline = cats_vs_dogs()
    pipeline.calibration = {"threshold": 0.99, "map": {"a": 1.0, "b": 0.0}}
    probabilities = np.array([_row(**{f"i{TABBY}": 0.5})])
    metrics = evaluation.measure(pipeline, probabilities, ["cat"], described="x")
    assert "reliability" not in metrics
