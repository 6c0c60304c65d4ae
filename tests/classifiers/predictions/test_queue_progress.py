"""While an upload waits, the page and the API say how many are ahead of it
and about how long it will take."""

from datetime import timedelta

import pytest
from django.core.cache import cache
from django.core.files.uploadedfile import SimpleUploadedFile
from django.utils import timezone

from classifiers import selectors
from classifiers.models import Prediction, PredictionStatus
from classifiers.predictions import services as prediction_services
from tests.conftest import jpeg_bytes


@pytest.fixture
def demo(demos):
    return demos["cats-vs-dogs"]


def _waiting(demo, n, **kwargs) -> list[Prediction]:
    return [
        prediction_services.prediction_create(demo=demo, data=jpeg_bytes(), **kwargs)
        for _ in range(n)
    ]


def _answered_recently(demo, n: int) -> None:
    """n answers in the last 30 s: the workers' speed is n / 30 per second."""
    now = timezone.now()
    Prediction.objects.bulk_create(
        Prediction(
            demo=demo,
            image=f"predictions/answered-{i}.jpg",
            image_sha256="0" * 64,
            status=PredictionStatus.DONE,
            created_at=now - timedelta(seconds=3),
            started_at=now - timedelta(seconds=2),
            finished_at=now,
        )
        for i in range(n)
    )


def test_it_counts_the_uploads_ahead_and_estimates_the_wait(demo):
    cache.clear()
    _answered_recently(demo, 30)  # one answer a second lately
    ahead = _waiting(demo, 3)
    Prediction.objects.filter(pk=ahead[0].pk).update(status=PredictionStatus.RUNNING)
    mine = _waiting(demo, 1)[0]
    later = _waiting(demo, 2)  # after mine: not ahead of it

    progress = selectors.prediction_progress(prediction=mine)

    assert progress.ahead == 3
    assert progress.eta_seconds == pytest.approx(4.0)
    assert progress.poll_after_ms == 2000  # halfway there
    assert selectors.prediction_progress(prediction=later[-1]).ahead == 5


def test_a_finished_prediction_has_no_place_in_the_queue(demo):
    done = _waiting(demo, 1)[0]
    Prediction.objects.filter(pk=done.pk).update(
        status=PredictionStatus.DONE, finished_at=timezone.now()
    )
    done.refresh_from_db()
    assert selectors.prediction_progress(prediction=done) is None


def test_the_api_and_the_page_say_where_an_upload_stands(client, demo, alice):
    cache.clear()
    _answered_recently(demo, 15)  # one answer every two seconds
    _waiting(demo, 2)
    mine = _waiting(demo, 1, owner=alice)[0]
    client.force_login(alice)

    body = client.get(f"/api/v1/predictions/{mine.id}/").json()
    assert body["queue"]["ahead"] == 2
    assert body["queue"]["eta_seconds"] == pytest.approx(6.0)

    html = client.get(f"/predictions/{mine.id}/").content.decode()
    assert "2 uploads ahead of yours, about 6 s." in html
    status = client.get(f"/predictions/{mine.id}/status/", HTTP_ACCEPT="application/json").json()
    assert status["queue"]["poll_after_ms"] == 3000  # at most 3 s between polls
    assert "2 uploads ahead of yours" in status["html"]


def test_a_lone_upload_is_asked_about_again_after_about_one_answer(demo):
    cache.clear()
    _answered_recently(demo, 300)  # ten answers a second: a tenth of a second each
    mine = _waiting(demo, 1)[0]
    progress = selectors.prediction_progress(prediction=mine)
    assert (progress.ahead, progress.eta_seconds) == (0, 0.1)
    assert progress.poll_after_ms == 120  # a little after the expected answer, not 250 ms


def test_the_api_says_when_to_ask_first(client, demo):
    cache.clear()
    _answered_recently(demo, 300)
    photo = SimpleUploadedFile("cat.jpg", jpeg_bytes(), content_type="image/jpeg")
    body = client.post("/api/v1/predictions/", {"demo": "cats-vs-dogs", "image": photo}).json()
    assert body["queue"]["ahead"] == 0
    assert body["queue"]["poll_after_ms"] == 120
