import numpy as np
import pytest

from classifiers.inference.calibration import (
    NEITHER,
    BinaryCalibration,
    decide,
    expected_calibration_error,
    fit_inverse_temperature,
    fit_rule,
    fit_temperature,
    rule_cost,
    soften,
)


def test_ece_is_zero_when_confidence_matches_accuracy():
    confidence = np.array([0.8] * 10)
    correct = np.array([True] * 8 + [False] * 2)
    assert expected_calibration_error(confidence, correct) == pytest.approx(0.0)


def test_ece_measures_overconfidence():
    confidence = np.array([0.99] * 10)
    correct = np.array([True] * 5 + [False] * 5)
    assert expected_calibration_error(confidence, correct) == pytest.approx(0.49)


# -- the cat-or-dog rule ----------------------------------------------------------


def test_the_rule_says_neither_below_the_threshold_and_else_the_likelier_group():
    p_cat = np.array([0.05, 0.30, 0.20, 0.01])
    p_dog = np.array([0.05, 0.10, 0.60, 0.90])
    assert decide(p_cat, p_dog, threshold=0.2, shift=0.0).tolist() == [NEITHER, 0, 1, 1]
    # A prior shift of log(4) turns a 0.2 : 0.6 photo into a cat, not a 0.01 : 0.9 one.
    assert decide(p_cat, p_dog, threshold=0.2, shift=np.log(4)).tolist() == [NEITHER, 0, 0, 1]


def test_the_cost_counts_both_sides():
    truth = np.array([0, 0, 1, 1, NEITHER, NEITHER])
    decisions = np.array([0, NEITHER, 0, 1, 1, NEITHER])
    # 1 of 4 targets turned away, 1 of 4 confused, 1 of 2 others answered
    assert rule_cost(decisions, truth) == (0.25, 0.25, 0.5)


def _photos(rng, n: int):
    """Cats whose probability the network spreads thin (ImageNet under-calls
    cats), dogs, and other things with a little of either."""
    cats = rng.uniform(0.3, 0.9, n), rng.uniform(0.05, 0.5, n)
    dogs = rng.uniform(0.0, 0.05, n), rng.uniform(0.5, 1.0, n)
    others = rng.uniform(0.0, 0.08, n), rng.uniform(0.0, 0.08, n)
    p_cat = np.concatenate([cats[0] * 0.3, dogs[0], others[0]])
    p_dog = np.concatenate([cats[1], dogs[1], others[1]])
    truth = np.repeat([0, 1, NEITHER], n)
    return p_cat, p_dog, truth


def test_the_fitted_rule_refuses_others_and_fixes_the_under_called_cats():
    p_cat, p_dog, truth = _photos(np.random.default_rng(1), 300)
    fitted = fit_rule(p_cat, p_dog, truth)
    evidence = p_cat + p_dog
    assert evidence[truth == NEITHER].max() < fitted.threshold <= evidence[truth != NEITHER].min()
    assert fitted.shift > 0  # towards cat
    assert fitted.cost < 0.02
    plain = rule_cost(decide(p_cat, p_dog, threshold=fitted.threshold, shift=0.0), truth)
    assert fitted.confused < plain[1]

    new_cat, new_dog, new_truth = _photos(np.random.default_rng(2), 300)
    away, confused, answered = rule_cost(
        decide(new_cat, new_dog, threshold=fitted.threshold, shift=fitted.shift), new_truth
    )
    assert away + confused + answered < 0.1


def test_the_inverse_temperature_keeps_every_answer():
    rng = np.random.default_rng(3)
    truth = rng.random(2000) < 0.5
    # log-odds twice as large as the evidence warrants: the honest ones are z / 2
    z = np.where(truth, 1.0, -1.0) + rng.normal(0, 2.0, truth.size)
    a = fit_inverse_temperature(z, truth, shift=0.5)
    assert 0.3 <= a <= 0.7  # softened
    assert ((BinaryCalibration(a=a, b=a * 0.5).probability(z) >= 0.5) == (z + 0.5 >= 0)).all()


def test_the_breed_temperature_is_fitted_so_confidence_matches_accuracy():
    rng = np.random.default_rng(4)
    n, k = 3000, 20
    true = rng.integers(0, k, n)
    logits = rng.normal(0, 1, (n, k))
    logits[np.arange(n), true] += 1.5
    # The honest probabilities are softmax(1.5 * logits) (the true class's
    # logit is 1.5 higher); these are softmax(2.5 * logits): overconfident.
    overconfident = soften(np.exp(logits) / np.exp(logits).sum(1, keepdims=True), 0.4)
    temperature = fit_temperature(overconfident, true)
    assert temperature == pytest.approx(2.5 / 1.5, rel=0.1)
    fixed = soften(overconfident, temperature)
    right = fixed.argmax(1) == true
    assert expected_calibration_error(fixed.max(1), right) < 0.03
    assert expected_calibration_error(overconfident.max(1), right) > 0.15


def test_reliability_bins_count_answers_and_right_ones_per_band_of_confidence():
    from classifiers.inference.calibration import reliability_bins

    confidence = np.array([0.55, 0.58, 0.91, 0.95, 0.99, 1.0])
    correct = np.array([True, False, True, True, False, True])

    bins = reliability_bins(confidence, correct)

    assert bins == [
        {"low": 0.5, "high": 0.6, "n": 2, "right": 1, "confidence": 0.565},
        {"low": 0.9, "high": 1.0, "n": 4, "right": 3, "confidence": 0.9625},
    ]  # empty bands are left out; a confidence of 1.0 is in the last band
    assert reliability_bins(np.array([]), np.array([], dtype=bool)) == []
