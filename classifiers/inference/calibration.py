"""Calibration and rejection, fitted on labelled photos (pure numpy).

An ImageNet network spreads a cat's probability over many classes (lynx,
tiger cat, fox...) while a dog's lands in one of 118 dog classes, so the raw
sums over-call "dog" and their size says little about how sure the answer is.
Two fitted pieces fix that, both stored with each model version:

- a rejection threshold on the evidence for the demo's targets (p(cat) +
  p(dog), or p(dog)), set to keep a chosen share of real targets answered;
- a calibration map ``sigmoid(a * z + b)`` of the log-odds ``z`` between the
  two answers (or of "dog" against "not dog"): ``a`` is an inverse
  temperature and ``b`` a prior shift, chosen to minimise the expected
  calibration error on the fitting photos.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import numpy as np

EPS = 1e-9
ECE_BINS = 15


def expected_calibration_error(confidence: np.ndarray, correct: np.ndarray) -> float:
    """ECE with equal-width bins: mean |accuracy - confidence|, weighted by bin size."""
    confidence = np.asarray(confidence, dtype=float)
    correct = np.asarray(correct, dtype=float)
    bins = np.minimum((confidence * ECE_BINS).astype(int), ECE_BINS - 1)
    total = 0.0
    for b in range(ECE_BINS):
        members = bins == b
        if members.any():
            total += members.sum() * abs(correct[members].mean() - confidence[members].mean())
    return float(total / max(len(confidence), 1))


def sigmoid(x: np.ndarray) -> np.ndarray:
    return 1.0 / (1.0 + np.exp(-np.clip(x, -50, 50)))


def log_odds(p_first: np.ndarray, p_second: np.ndarray) -> np.ndarray:
    return np.log(np.asarray(p_first) + EPS) - np.log(np.asarray(p_second) + EPS)


@dataclass(frozen=True)
class BinaryCalibration:
    a: float  # inverse temperature
    b: float  # prior shift, in log-odds

    def probability(self, z: np.ndarray) -> np.ndarray:
        """Calibrated probability of the first answer given its log-odds ``z``."""
        return sigmoid(self.a * np.asarray(z) + self.b)

    def as_dict(self) -> dict:
        return asdict(self)


def _binary_ece(p_first: np.ndarray, is_first: np.ndarray) -> float:
    confidence = np.maximum(p_first, 1 - p_first)
    correct = (p_first >= 0.5) == is_first
    return expected_calibration_error(confidence, correct)


def fit_binary_calibration(z: np.ndarray, is_first: np.ndarray) -> BinaryCalibration:
    """Grid search for (a, b) minimising ECE; log loss breaks ties.

    A grid rather than gradients because ECE is piecewise constant; it is two
    parameters and a few hundred photos, so it takes a fraction of a second.
    """
    z = np.asarray(z, dtype=float)
    y = np.asarray(is_first, dtype=bool)
    best: tuple[float, float, float, float] | None = None
    for a in np.linspace(0.1, 4.0, 40):
        for b in np.linspace(-6.0, 6.0, 121):
            p = sigmoid(a * z + b)
            ece = _binary_ece(p, y)
            nll = -np.mean(np.where(y, np.log(p + EPS), np.log(1 - p + EPS)))
            key = (round(ece, 4), nll)
            if best is None or key < best[:2]:
                best = (key[0], key[1], float(a), float(b))
    assert best is not None
    return BinaryCalibration(a=round(best[2], 4), b=round(best[3], 4))


def keep_threshold(evidence_of_targets: np.ndarray, keep: float = 0.95) -> float:
    """The largest threshold that still answers at least ``keep`` of the targets."""
    values = np.sort(np.asarray(evidence_of_targets, dtype=float))
    allowed_rejections = int(np.floor((1 - keep) * len(values)))
    return float(values[allowed_rejections])
