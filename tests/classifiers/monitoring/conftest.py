"""Crafted prediction rows with set timestamps, for the queue monitor's figures.

No model, no worker, no photo file: the monitor reads only the rows."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from classifiers.models import Demo, ModelVersion, Prediction, PredictionStatus

NOW = datetime(2025, 6, 1, 12, 30, 20, tzinfo=UTC)


@pytest.fixture
def demo(db):
    return Demo.objects.create(
        slug="cats-vs-dogs", title="Cats vs dogs", summary="Cat or dog?", kind="imagenet-subset"
    )


@pytest.fixture
def versions(demo):
    return {
        number: ModelVersion.objects.create(
            demo=demo, number=number, name=f"Lite{number}", artifact=f"v{number}.keras"
        )
        for number in (1, 2)
    }


def seconds(s: float) -> timedelta:
    return timedelta(seconds=s)


def make_row(
    demo: Demo,
    *,
    status: str,
    created: datetime,
    version: ModelVersion | None = None,
    started: datetime | None = None,
    heartbeat: datetime | None = None,
    finished: datetime | None = None,
    error: str = "",
    attempts: int = 0,
) -> Prediction:
    return Prediction.objects.create(
        demo=demo,
        model_version=version,
        image="predictions/crafted.jpg",
        image_sha256="0" * 64,
        status=status,
        created_at=created,
        started_at=started,
        heartbeat_at=heartbeat,
        finished_at=finished,
        error=error,
        attempts=attempts,
    )


def make_answer(
    demo: Demo,
    version: ModelVersion,
    *,
    finished: datetime,
    upload_to_answer: float,
    claim_to_answer: float,
    status: str = PredictionStatus.DONE,
) -> Prediction:
    return make_row(
        demo,
        version=version,
        status=status,
        created=finished - seconds(upload_to_answer),
        started=finished - seconds(claim_to_answer),
        heartbeat=finished - seconds(claim_to_answer),
        finished=finished,
        attempts=1,
    )
