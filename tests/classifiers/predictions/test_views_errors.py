"""What visitors are told when something is wrong: never a server path or an
exception's own text (finding 9)."""

import re

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from rest_framework.test import APIClient

from classifiers.models import Prediction, PredictionStatus
from classifiers.predictions import services as prediction_services
from classifiers.predictions.tasks import run_prediction
from tests.conftest import example_bytes

URL = "/demos/cats-vs-dogs/"
# What leaked: "[Errno 2] No such file or directory: '/.../media/predictions/...'".
LEAKS = re.compile(r"Errno|No such file|/predictions/\d{4}/|media|Traceback|\.py\b")


def _assert_no_leak(text: str, media_root) -> None:
    assert not LEAKS.search(text), text
    assert str(media_root) not in text


@pytest.fixture
def gone(demos, alice):
    """Alice's answered upload whose stored photo has been lost."""
    prediction = prediction_services.prediction_create(
        demo=demos["cats-vs-dogs"], data=example_bytes("cat.jpg"), owner=alice
    )
    Prediction.objects.filter(id=prediction.id).update(status=PredictionStatus.DONE)
    prediction.image.storage.delete(prediction.image.name)
    return prediction


def test_it_says_a_re_run_photo_is_gone_without_its_path(client, alice, gone, _private_media_root):
    client.force_login(alice)
    response = client.post(f"/predictions/{gone.id}/rerun/", follow=True)
    html = response.content.decode()
    assert "This upload cannot be re-run: This upload&#x27;s photo is gone" in html
    _assert_no_leak(html, _private_media_root)
    assert Prediction.objects.count() == 1


def test_it_says_a_re_run_photo_is_gone_when_none_was_ever_stored(client, alice, gone):
    Prediction.objects.filter(id=gone.id).update(image="")
    client.force_login(alice)
    response = client.post(f"/predictions/{gone.id}/rerun/", follow=True)
    assert response.status_code == 200
    assert "This upload&#x27;s photo is gone" in response.content.decode()


def test_it_fails_a_prediction_whose_photo_is_gone_with_words_for_a_person(
    client, alice, gone, _private_media_root
):
    Prediction.objects.filter(id=gone.id).update(status=PredictionStatus.QUEUED)

    run_prediction(str(gone.id))  # what a worker runs, here in-process

    gone.refresh_from_db()
    assert gone.status == PredictionStatus.FAILED
    _assert_no_leak(gone.error, _private_media_root)
    client.force_login(alice)
    page = client.get(f"/predictions/{gone.id}/").content.decode()
    assert f"Failed: {gone.error}" in page
    _assert_no_leak(
        client.get(f"/predictions/{gone.id}/status/").json()["error"], _private_media_root
    )


def _truncated_jpeg() -> bytes:
    data = example_bytes("cat.jpg")
    return data[: len(data) // 2]


def test_it_calls_a_damaged_photo_damaged_without_the_decoders_text(client, demos):
    """Pillow's message ("image file is truncated (12 bytes not processed)") was
    shown inside the refusal."""
    photo = SimpleUploadedFile("photo.jpg", _truncated_jpeg(), "image/jpeg")
    page = client.post(URL, {"image": photo}, HTTP_ACCEPT="application/json")
    api = APIClient().post(
        "/api/v1/predictions/",
        {"demo": "cats-vs-dogs", "image": SimpleUploadedFile("p.jpg", _truncated_jpeg())},
        format="multipart",
    )
    for response in (page, api):
        assert response.status_code == 400
        assert response.json() == {
            "error": "The image is damaged or incomplete.",
            "code": "bad_image",
        }
