"""Calibration and rejection, fitted on labelled photos (pure numpy).

An ImageNet network spreads a cat's probability over many classes (lynx,
tiger cat, fox...) while a dog's lands in one of 121 dog classes, so the raw
sums over-call "dog" and their size says little about how sure the answer is.
Both ImageNet demos decide with one rule, so they agree on what is a dog:

1. the evidence is p(cat) + p(dog); below a threshold ``t`` the photo is
   neither (cats vs dogs: "neither"; dog breeds: "not a dog");
2. otherwise cat or dog by the log-odds ``z = log p(cat) / p(dog)`` moved by
   a prior shift ``s`` (cat when ``z + s >= 0``): ImageNet under-calls cats;
3. dog breeds names a breed only when the rule says dog.

``t`` and ``s`` are chosen together by what they cost on both sides: real
cats and dogs turned away, cats and dogs confused, and other things answered
(each as a rate, so a small set of "other" photos weighs as much as many
targets). The shown confidence of cat vs dog is ``sigmoid(a * (z + s))``
with an inverse temperature ``a`` fitted for calibration (stored as the map
``a``, ``b = a * s``); breed confidences are the within-dog probabilities
sharpened or softened by a temperature ``T``, fitted on labelled dogs.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import numpy as np

EPS = 1e-9
ECE_BINS = 15
# Bins of the reliability diagram: coarser than the ECE's, so that each bin of
# a few hundred photos holds enough answers to read its accuracy.
RELIABILITY_BINS = 10


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


def reliability_bins(
    confidence: np.ndarray, correct: np.ndarray, bins: int = RELIABILITY_BINS
) -> list[dict]:
    """What a reliability diagram draws: for each equal-width bin of the shown
    confidence that holds answers, how many (``n``), how many were right
    (``right``) and their mean confidence. Plain numbers, so the bins can be
    stored with a version's figures and drawn without the photos."""
    confidence = np.asarray(confidence, dtype=float)
    correct = np.asarray(correct, dtype=bool)
    index = np.minimum((confidence * bins).astype(int), bins - 1)
    out = []
    for b in range(bins):
        members = index == b
        if members.any():
            out.append(
                {
                    "low": round(b / bins, 4),
                    "high": round((b + 1) / bins, 4),
                    "n": int(members.sum()),
                    "right": int(correct[members].sum()),
                    "confidence": round(float(confidence[members].mean()), 4),
                }
            )
    return out


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


NEITHER = -1  # the rule's code for "neither of the two groups"

THRESHOLDS = np.round(np.arange(0.01, 0.96, 0.01), 2)
SHIFTS = np.round(np.arange(-2.0, 8.001, 0.25), 2)
INVERSE_TEMPERATURES = np.round(np.linspace(0.1, 4.0, 40), 2)
TEMPERATURES = np.round(np.geomspace(0.25, 4.0, 81), 4)


def decide(
    p_first: np.ndarray, p_second: np.ndarray, *, threshold: float, shift: float
) -> np.ndarray:
    """The rule, for arrays of photos: 0 (first group), 1 (second) or NEITHER."""
    p_first = np.asarray(p_first, dtype=float)
    p_second = np.asarray(p_second, dtype=float)
    group = np.where(log_odds(p_first, p_second) + shift >= 0, 0, 1)
    return np.where(p_first + p_second >= threshold, group, NEITHER)


@dataclass(frozen=True)
class RuleFit:
    threshold: float
    shift: float
    turned_away: float  # share of real targets answered "neither"
    confused: float  # share of real targets put in the other group
    answered: float  # share of other photos answered as one of the groups

    @property
    def cost(self) -> float:
        return self.turned_away + self.confused + self.answered


def rule_cost(decisions: np.ndarray, truth: np.ndarray) -> tuple[float, float, float]:
    """(turned away, confused, answered) for decisions against true codes."""
    decisions, truth = np.asarray(decisions), np.asarray(truth)
    targets = truth != NEITHER
    if targets.any():
        away = float(np.mean(decisions[targets] == NEITHER))
        confused = float(
            np.mean((decisions[targets] != NEITHER) & (decisions[targets] != truth[targets]))
        )
    else:
        away = confused = 0.0
    answered = float(np.mean(decisions[~targets] != NEITHER)) if (~targets).any() else 0.0
    return away, confused, answered


def fit_rule(p_first: np.ndarray, p_second: np.ndarray, truth: np.ndarray) -> RuleFit:
    """The (threshold, prior shift) of least cost on labelled photos.

    ``truth`` holds 0 or 1 for a photo of the first or second group and
    NEITHER for anything else. A grid, as the cost counts photos (piecewise
    constant); among equally cheap pairs the lowest threshold (fewest real
    targets turned away on new photos), then the middle of the tied shifts.
    """
    p_first = np.asarray(p_first, dtype=float)
    p_second = np.asarray(p_second, dtype=float)
    truth = np.asarray(truth)
    evidence = p_first + p_second
    z = log_odds(p_first, p_second)
    targets = truth != NEITHER
    n_targets, n_others = max(targets.sum(), 1), max((~targets).sum(), 1)
    # costs[i, j] for THRESHOLDS[i], SHIFTS[j], computed without a Python loop per photo
    answered = evidence[None, :] >= THRESHOLDS[:, None]  # (thresholds, photos)
    group = np.where(z[None, :] + SHIFTS[:, None] >= 0, 0, 1)  # (shifts, photos)
    right = group == truth[None, :]
    hits = (answered[:, None, :] & right[None, :, :] & targets).sum(-1)
    others_answered = (answered & ~targets).sum(-1)
    costs = (1 - hits / n_targets) + (others_answered / n_others)[:, None]
    i = int(np.argmax((costs <= costs.min() + 1e-12).any(axis=1)))
    tied = np.flatnonzero(costs[i] <= costs.min() + 1e-12)
    j = int(tied[len(tied) // 2])
    threshold, shift = float(THRESHOLDS[i]), float(SHIFTS[j])
    away, confused, others = rule_cost(
        decide(p_first, p_second, threshold=threshold, shift=shift), truth
    )
    return RuleFit(threshold, shift, away, confused, others)


def fit_inverse_temperature(z: np.ndarray, is_first: np.ndarray, shift: float) -> float:
    """The inverse temperature ``a`` of ``sigmoid(a * (z + shift))`` with the least
    ECE (log loss breaks ties); the shift, hence every answer, stays as fitted."""
    z = np.asarray(z, dtype=float)
    y = np.asarray(is_first, dtype=bool)
    if not len(z):
        return 1.0
    best: tuple[float, float, float] | None = None
    for a in INVERSE_TEMPERATURES:
        p = sigmoid(a * (z + shift))
        nll = -np.mean(np.where(y, np.log(p + EPS), np.log(1 - p + EPS)))
        key = (round(_binary_ece(p, y), 4), float(nll), float(a))
        if best is None or key < best:
            best = key
    assert best is not None
    return best[2]


def soften(p_members: np.ndarray, temperature: float) -> np.ndarray:
    """Probabilities within a group, renormalised, with a temperature:
    ``p_i ** (1 / T)``, normalised (T > 1 softens, T < 1 sharpens; the order,
    hence the answer, never changes)."""
    p = np.asarray(p_members, dtype=float)
    with np.errstate(divide="ignore"):
        logits = np.log(p) / temperature  # a class at 0 stays at 0
    top = logits.max(axis=-1, keepdims=True)
    q = np.exp(logits - np.where(np.isfinite(top), top, 0.0))
    total = q.sum(axis=-1, keepdims=True)
    return np.where(total > 0, q / np.where(total > 0, total, 1.0), 1.0 / p.shape[-1])


def fit_temperature(p_members: np.ndarray, true_member: np.ndarray) -> float:
    """The temperature with the least log loss of the true member (one row per
    labelled photo; ``true_member`` indexes the columns)."""
    p_members = np.asarray(p_members, dtype=float)
    rows = np.arange(len(p_members))
    if not len(rows):
        return 1.0
    losses = [-np.mean(np.log(soften(p_members, t)[rows, true_member] + EPS)) for t in TEMPERATURES]
    return float(TEMPERATURES[int(np.argmin(losses))])
