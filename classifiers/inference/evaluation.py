"""Fitting and measuring a classifier version on labelled photos.

One code path for bench/calibrate.py (on ../shared/data) and for the
validation of an uploaded version (on the demo's evaluation set): fit the
rejection threshold and calibration map on some photos, measure on others.

Labels are the demo's answers ("cat", "dog", a breed name); any label in
NON_TARGET marks a photo the demo must refuse to answer.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np

from classifiers.inference.calibration import (
    expected_calibration_error,
    fit_binary_calibration,
    keep_threshold,
    log_odds,
)

NON_TARGET = {"neither", "not-a-dog", "not a dog", "other", "no-face", "none"}
KEEP = 0.95


def is_target(label: str) -> bool:
    return label.strip().lower() not in NON_TARGET


def same_answer(truth: str, answer: str) -> bool:
    return truth.strip().lower() == answer.strip().lower()


def fit_calibration(
    pipeline, probabilities: np.ndarray, truth: Sequence[str], *, described: str
) -> dict:
    """Rejection threshold keeping KEEP of the targets answered, and the
    calibration map minimising ECE, for an ImageNet-subset pipeline."""
    truth = np.array([t.strip().lower() for t in truth])
    targets = np.array([is_target(t) for t in truth])
    groups = list(pipeline.groups.values())
    if pipeline.within:
        evidence = probabilities[:, pipeline.groups[pipeline.within]].sum(1)
        threshold = keep_threshold(evidence[targets], KEEP)
        mapping = fit_binary_calibration(log_odds(evidence, 1 - evidence), targets)
    else:
        first, second = (probabilities[:, idx].sum(1) for idx in groups[:2])
        evidence = first + second
        threshold = keep_threshold(evidence[targets], KEEP)
        answered = targets & (evidence >= threshold)
        first_name = list(pipeline.groups)[0]
        mapping = fit_binary_calibration(
            log_odds(first[answered], second[answered]), truth[answered] == first_name
        )
    return {
        "threshold": round(float(threshold), 5),
        "map": mapping.as_dict(),
        "keeps": KEEP,
        "fitted_on": described,
    }


def measure(
    pipeline,
    probabilities: np.ndarray,
    truth: Sequence[str],
    *,
    described: str,
    matches: Callable[[str, str], bool] = same_answer,
) -> dict:
    """Top-1/top-3 accuracy over the targets (a refusal counts as wrong), ECE of
    the shown confidence, and how often targets and non-targets are refused."""
    outcomes = [pipeline.postprocess(row[None]) for row in probabilities]
    targets = [i for i, t in enumerate(truth) if is_target(t)]
    others = [i for i, t in enumerate(truth) if not is_target(t)]

    def hit(i: int, k: int) -> bool:
        outcome = outcomes[i]
        top = outcome.top[:k] if outcome.status == "done" else []
        if not pipeline.within:
            top = top[:1]  # two answers: "top-3" would always contain the truth
        return any(matches(truth[i], item["label"]) for item in top)

    top1 = [hit(i, 1) for i in targets]
    answered = [n for n, i in enumerate(targets) if outcomes[i].status == "done"]
    ece = expected_calibration_error(
        [outcomes[targets[n]].score for n in answered], [top1[n] for n in answered]
    )
    refused = [o.status == "rejected" for o in outcomes]
    return {
        "accuracy": round(float(np.mean(top1)), 4) if targets else None,
        "top3": round(float(np.mean([hit(i, 3) for i in targets])), 4) if targets else None,
        "ece": round(ece, 4),
        "rejection_rate": round(float(np.mean([refused[i] for i in others])), 4)
        if others
        else None,
        "false_rejection_rate": round(float(np.mean([refused[i] for i in targets])), 4)
        if targets
        else None,
        "evaluated_on": described,
    }


def split_for_fitting(names: Sequence[str]) -> tuple[list[int], list[int]]:
    """Deterministic halves of an evaluation set: fit on one, measure on the
    other, so no figure comes from the photos a value was fitted on."""
    import hashlib

    fit, test = [], []
    for i, name in enumerate(names):
        (fit if hashlib.sha256(name.encode()).digest()[0] % 2 == 0 else test).append(i)
    return fit, test
