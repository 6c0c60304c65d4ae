import numpy as np
import pytest

from classifiers.inference.calibration import (
    BinaryCalibration,
    expected_calibration_error,
    fit_binary_calibration,
    keep_threshold,
)


def test_ece_is_zero_when_confidence_matches_accuracy():
    confidence = np.array([0.8] * 10)
    correct = np.array([True] * 8 + [False] * 2)
    assert expected_calibration_error(confidence, correct) == pytest.approx(0.0)


def test_ece_measures_overconfidence():
    confidence = np.array([0.99] * 10)
    correct = np.array([True] * 5 + [False] * 5)
    assert expected_calibration_error(confidence, correct) == pytest.approx(0.49)


def test_the_fitted_map_removes_a_bias_towards_one_answer():
    rng = np.random.default_rng(0)
    truth = rng.random(2000) < 0.5
    # A model whose log-odds for "first" are shifted down by 2: it under-calls "first".
    z = np.where(truth, 1.5, -1.5) + rng.normal(0, 1.0, truth.size) - 2.0
    raw = BinaryCalibration(a=1.0, b=0.0).probability(z)
    fitted = fit_binary_calibration(z, truth)
    calibrated = fitted.probability(z)
    assert fitted.b > 1.0
    assert ((calibrated >= 0.5) == truth).mean() > ((raw >= 0.5) == truth).mean()


def test_the_threshold_keeps_at_least_the_asked_share():
    evidence = np.linspace(0.01, 1.0, 100)
    threshold = keep_threshold(evidence, keep=0.95)
    assert (evidence >= threshold).mean() >= 0.95
    assert (evidence >= np.nextafter(threshold, 1)).mean() < 0.95
