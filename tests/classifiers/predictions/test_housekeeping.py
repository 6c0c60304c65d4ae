"""Nothing is kept for ever: anonymous predictions and their files expire."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.core.files.base import ContentFile
from django.utils import timezone

from classifiers.models import Prediction
from classifiers.predictions import services as prediction_services
from classifiers.predictions import tasks
from classifiers.predictions import worker as prediction_worker
from tests.conftest import jpeg_bytes


@pytest.fixture
def cats_vs_dogs(demos):
    return demos["cats-vs-dogs"]


def _made(demo, *, days_ago: float, owner=None, heatmap: bool = False) -> Prediction:
    prediction = prediction_services.prediction_create(
        demo=demo, data=jpeg_bytes(), owner=owner, visitor_id="browser-a"
    )
    if heatmap:
        prediction.heatmap.save(f"{prediction.id}-heatmap.png", ContentFile(b"png"), save=True)
    Prediction.objects.filter(id=prediction.id).update(
        created_at=timezone.now() - timedelta(days=days_ago)
    )
    return prediction


def _stored(field) -> bool:
    return field.storage.exists(field.name)


def test_it_deletes_anonymous_predictions_and_their_files_after_thirty_days(
    cats_vs_dogs, settings, client
):
    assert settings.ANONYMOUS_RETENTION_DAYS == 30
    old = _made(cats_vs_dogs, days_ago=31, heatmap=True)
    recent = _made(cats_vs_dogs, days_ago=29)

    tasks.expire_anonymous_predictions()

    assert not Prediction.objects.filter(id=old.id).exists()
    assert not _stored(old.image) and not _stored(old.heatmap)
    assert Prediction.objects.filter(id=recent.id).exists() and _stored(recent.image)
    session = client.session
    session["visitor_id"] = "browser-a"
    session.save()
    assert client.get(f"/predictions/{old.id}/").status_code == 404
    assert client.get(f"/predictions/{recent.id}/").status_code == 200


def test_it_keeps_the_predictions_of_accounts(cats_vs_dogs, alice):
    mine = _made(cats_vs_dogs, days_ago=400, owner=alice)

    assert prediction_worker.predictions_expire_anonymous() == 0

    assert Prediction.objects.filter(id=mine.id).exists() and _stored(mine.image)


def test_the_retention_is_a_setting(cats_vs_dogs, settings):
    settings.ANONYMOUS_RETENTION_DAYS = 7
    week_old = _made(cats_vs_dogs, days_ago=8)

    assert prediction_worker.predictions_expire_anonymous() == 1

    assert not Prediction.objects.filter(id=week_old.id).exists()


def test_a_rerun_of_an_expired_prediction_keeps_its_own_photo(cats_vs_dogs, alice):
    old = _made(cats_vs_dogs, days_ago=31)
    rerun = prediction_services.prediction_rerun(prediction=old, owner=alice)

    prediction_worker.predictions_expire_anonymous()

    rerun.refresh_from_db()
    assert rerun.rerun_of is None
    assert _stored(rerun.image)
