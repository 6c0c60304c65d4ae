"""Fitting and measuring an ImageNet-subset version on labelled photos.

One code path for bench/calibrate.py (on ../shared/data) and for the
validation of an uploaded version (on the demo's evaluation set): fit the
cat-or-dog rule (threshold, prior shift), the confidence map and the breed
temperature on some photos (calibration.py), measure on others.

Labels are the demo's answers ("cat", "dog", a breed name); any label in
NON_TARGET marks a photo the demo must refuse to answer. Dog breeds also
reads "cat" (a photo to refuse as a cat) and, for fitting only, "dog" (a dog
whose breed is not known).

Every measured figure is stored twice in a version's metrics: as the scalar
keys the API and the admin read (accuracy, top3, ece, rejection_rate,
false_rejection_rate, latency_p50_ms) and in ``metrics["figures"]``, a list
of dicts that pages show as they are, each with its sample size and the set
it was measured on in words::

    {"key": "accuracy", "label": "Right breed named first", "value": 0.907,
     "k": 291, "n": 321, "unit": "dog photos", "format": "percent",
     "interval": True, "measured_on": "321 dog photos from ..."}

``interval`` asks for the Wilson 95% interval of k of n (stats.Share);
``low``/``high``, when given, are an interval computed otherwise (the ECE's
is a bootstrap). ``format`` is "percent" (the default), "ms" or "number".

Beside them, ``metrics["reliability"]`` keeps what a reliability diagram
draws (confidence shown vs. how often right, per bin), counted on the same
answered photos as the ECE::

    {"bins": [{"low": 0.9, "high": 1.0, "n": 250, "right": 241,
               "confidence": 0.962}, ...],
     "n": 291, "bins_of": 10, "measured_on": "..."}
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from classifiers.inference.calibration import (
    NEITHER,
    RELIABILITY_BINS,
    expected_calibration_error,
    fit_inverse_temperature,
    fit_rule,
    fit_temperature,
    log_odds,
    reliability_bins,
)
from classifiers.inference.stats import Share

NON_TARGET = {"neither", "not-a-dog", "not a dog", "other", "no-face", "none"}
BOOTSTRAP_ROUNDS = 1000


def is_target(label: str) -> bool:
    return label.strip().lower() not in NON_TARGET


def same_answer(truth: str, answer: str) -> bool:
    return truth.strip().lower() == answer.strip().lower()


# -- fitting --------------------------------------------------------------------


def fit_calibration(
    pipeline, probabilities: np.ndarray, truth: Sequence[str], *, described: str
) -> dict:
    """The rule's threshold and prior shift of least cost, the inverse
    temperature of the cat-vs-dog confidence and, for dog breeds, the breed
    temperature. Dog breeds and cats vs dogs fit the same (threshold, shift,
    map) on the same labelled photos: the cost counts cats and dogs alike."""
    probabilities = np.asarray(probabilities, dtype=np.float64)
    codes = [pipeline.truth_code(t) for t in truth]
    group = np.array([g for g, _ in codes])
    first, second = pipeline.group_sums(probabilities)
    rule = fit_rule(first, second, group)
    answered = (group != NEITHER) & (first + second >= rule.threshold)
    a = fit_inverse_temperature(
        log_odds(first[answered], second[answered]), group[answered] == 0, rule.shift
    )
    calibration = {
        "threshold": rule.threshold,
        "prior_shift": rule.shift,
        "map": {"a": a, "b": round(a * rule.shift, 6)},
        "fit": {
            "cost": round(rule.cost, 4),
            "targets_turned_away": round(rule.turned_away, 4),
            "targets_confused": round(rule.confused, 4),
            "others_answered": round(rule.answered, 4),
            "photos": len(group),
        },
        "fitted_on": described,
    }
    if pipeline.within:
        members = pipeline.groups[pipeline.within]
        known = [i for i, (_, member) in enumerate(codes) if member is not None]
        within = probabilities[np.ix_(known, members)]
        within = within / np.maximum(within.sum(axis=1, keepdims=True), 1e-12)
        calibration["temperature"] = fit_temperature(
            within, np.array([codes[i][1] for i in known], dtype=int)
        )
        calibration["fit"]["breeds_known"] = len(known)
    return calibration


# -- measuring ------------------------------------------------------------------


@dataclass(frozen=True)
class Assessment:
    """What a version does on labelled photos, counted."""

    top1: Share  # targets answered right (a refusal counts as wrong)
    top3: Share | None  # right answer among the first three (ranked demos)
    turned_away: Share  # targets refused
    refused: Share  # non-targets refused
    ece: float | None  # calibration error of the shown confidence, on answered targets
    ece_n: int
    ece_interval: tuple[float, float] | None  # bootstrap 95%
    # Per confidence bin of the answered targets (calibration.reliability_bins).
    reliability: tuple[dict, ...] = ()

    def scalars(self) -> dict:
        """The scalar keys the API, the admin and older pages read."""

        def rate(share: Share | None) -> float | None:
            return round(share.value, 4) if share is not None and share.n else None

        return {
            "accuracy": rate(self.top1),
            "top3": rate(self.top3) if self.top3 is not None else rate(self.top1),
            "ece": round(self.ece, 4) if self.ece is not None else None,
            "rejection_rate": rate(self.refused),
            "false_rejection_rate": rate(self.turned_away),
        }


def assess(pipeline, probabilities: np.ndarray, truth: Sequence[str]) -> Assessment:
    """Count what the served pipeline answers (``postprocess``, as a worker runs
    it) for each photo against its label."""
    outcomes = [pipeline.postprocess(row[None]) for row in np.asarray(probabilities)]
    codes = [pipeline.truth_code(t) if is_target(t) else (NEITHER, None) for t in truth]
    names = list(pipeline.groups)
    if pipeline.within:
        members = pipeline.groups[pipeline.within]
        # a dog without its breed cannot be scored on breeds: fitting only
        targets = [i for i, (_, member) in enumerate(codes) if member is not None]
        right = {i: pipeline.display_name(members[codes[i][1]]) for i in targets}
    else:
        targets = [i for i, (g, _) in enumerate(codes) if g != NEITHER]
        right = {i: names[codes[i][0]] for i in targets}
    others = [i for i in range(len(outcomes)) if i not in right]

    def hit(i: int, k: int) -> bool:
        outcome = outcomes[i]
        top = outcome.top[:k] if outcome.status == "done" else []
        return any(item["label"] == right[i] for item in top)

    answered = [i for i in targets if outcomes[i].status == "done"]
    confidence = np.array([outcomes[i].score for i in answered], dtype=float)
    correct = np.array([hit(i, 1) for i in answered], dtype=bool)
    return Assessment(
        top1=Share(sum(hit(i, 1) for i in targets), len(targets)),
        top3=Share(sum(hit(i, 3) for i in targets), len(targets)) if pipeline.within else None,
        turned_away=Share(sum(outcomes[i].status == "rejected" for i in targets), len(targets)),
        refused=Share(sum(outcomes[i].status == "rejected" for i in others), len(others)),
        ece=expected_calibration_error(confidence, correct) if answered else None,
        ece_n=len(answered),
        ece_interval=ece_interval(confidence, correct) if answered else None,
        reliability=tuple(reliability_bins(confidence, correct)) if answered else (),
    )


def reliability_record(assessment: Assessment, *, measured_on: str) -> dict | None:
    """``metrics["reliability"]`` of an assessment (None when nothing was answered)."""
    if not assessment.reliability:
        return None
    return {
        "bins": list(assessment.reliability),
        "n": assessment.ece_n,
        "bins_of": RELIABILITY_BINS,
        "measured_on": measured_on,
    }


def ece_interval(
    confidence: np.ndarray, correct: np.ndarray, rounds: int = BOOTSTRAP_ROUNDS
) -> tuple[float, float]:
    """A 95% bootstrap interval of the ECE (photos resampled with replacement;
    a fixed seed, so the stored figure does not change from run to run)."""
    rng = np.random.default_rng(0)
    n = len(confidence)
    values = [
        expected_calibration_error(confidence[pick], correct[pick])
        for pick in (rng.integers(0, n, n) for _ in range(rounds))
    ]
    low, high = np.percentile(values, [2.5, 97.5])
    return float(low), float(high)


def share_figure(key: str, label: str, share: Share, *, unit: str, measured_on: str) -> dict:
    return {
        "key": key,
        "label": label,
        "value": round(share.value, 4) if share.n else None,
        "k": share.k,
        "n": share.n,
        "unit": unit,
        "format": "percent",
        "interval": True,
        "measured_on": measured_on,
    }


def words(pipeline) -> dict:
    """How a demo's figures read: targets, others, answers."""
    if pipeline.within:
        return {
            "target": f"{pipeline.within} photos",
            "accuracy": f"Right {_breed(pipeline)} named first",
            "top3": f"Right {_breed(pipeline)} among the first three",
            "turned_away": f"Real {pipeline.within}s turned away",
            "refused": "Other photos refused",
        }
    names = " and ".join(f"{name}s" for name in pipeline.groups)
    return {
        "target": "photos",
        "accuracy": "Right answer",
        "top3": "Right answer among the first three",
        "turned_away": f"Real {names} turned away",
        "refused": "Other photos refused",
    }


def _breed(pipeline) -> str:
    return "breed" if pipeline.within == "dog" else "class"


def figures(
    pipeline,
    assessment: Assessment,
    *,
    targets_on: str,
    others_on: str,
    parts: Sequence[str] = ("accuracy", "top3", "ece", "turned_away", "refused"),
) -> list[dict]:
    """The figures of one assessment, each saying where it was measured.

    A refusal counts as a wrong answer in "accuracy"; "ece" is the gap
    between the confidence shown and how often such answers are right.
    """
    w = words(pipeline)
    out = []
    if "accuracy" in parts and assessment.top1.n:
        out.append(
            share_figure(
                "accuracy", w["accuracy"], assessment.top1, unit=w["target"], measured_on=targets_on
            )
        )
    if "top3" in parts and assessment.top3 is not None and assessment.top3.n:
        out.append(
            share_figure(
                "top3", w["top3"], assessment.top3, unit=w["target"], measured_on=targets_on
            )
        )
    if "ece" in parts and assessment.ece is not None:
        low, high = assessment.ece_interval or (None, None)
        out.append(
            {
                "key": "ece",
                "label": "Calibration error (confidence shown vs. how often right)",
                "value": round(assessment.ece, 4),
                "n": assessment.ece_n,
                "unit": "answered photos",
                "format": "percent",
                "interval": low is not None,
                "low": None if low is None else round(low, 4),
                "high": None if high is None else round(high, 4),
                "measured_on": targets_on,
            }
        )
    if "turned_away" in parts and assessment.turned_away.n:
        out.append(
            share_figure(
                "false_rejection_rate",
                w["turned_away"],
                assessment.turned_away,
                unit=w["target"],
                measured_on=targets_on,
            )
        )
    if "refused" in parts and assessment.refused.n:
        out.append(
            share_figure(
                "rejection_rate",
                w["refused"],
                assessment.refused,
                unit="photos",
                measured_on=others_on,
            )
        )
    return out


def latency_figure(milliseconds: float, *, runs: int, measured_on: str) -> dict:
    return {
        "key": "latency_p50_ms",
        "label": "Time to answer one photo (median)",
        "value": milliseconds,
        "n": runs,
        "unit": "runs",
        "format": "ms",
        "interval": False,
        "measured_on": measured_on,
    }


def measure(pipeline, probabilities: np.ndarray, truth: Sequence[str], *, described: str) -> dict:
    """Top-1/top-3 accuracy over the targets (a refusal counts as wrong), ECE of
    the shown confidence, and how often targets and non-targets are refused:
    the scalar keys and the figures, all measured on ``described``."""
    assessment = assess(pipeline, probabilities, truth)
    metrics = {
        **assessment.scalars(),
        "evaluated_on": described,
        "figures": figures(pipeline, assessment, targets_on=described, others_on=described),
    }
    reliability = reliability_record(assessment, measured_on=described)
    if reliability is not None:
        metrics["reliability"] = reliability
    return metrics


def split_for_fitting(names: Sequence[str]) -> tuple[list[int], list[int]]:
    """Deterministic halves of an evaluation set: fit on one, measure on the
    other, so no figure comes from the photos a value was fitted on."""
    fit, test = [], []
    for i, name in enumerate(names):
        (fit if hashlib.sha256(name.encode()).digest()[0] % 2 == 0 else test).append(i)
    return fit, test
