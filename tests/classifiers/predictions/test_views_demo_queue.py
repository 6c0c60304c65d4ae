"""The demo page refuses uploads with 503 while the queue is too deep (as the API does)."""

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import override_settings

from classifiers.models import Prediction
from classifiers.predictions import services as prediction_services
from tests.conftest import jpeg_bytes

URL = "/demos/cats-vs-dogs/"


@pytest.fixture
def full_queue(demos):
    prediction_services.prediction_create(demo=demos["dog-breeds"], data=jpeg_bytes())
    with override_settings(QUEUE_MAX_DEPTH=1, QUEUE_RETRY_AFTER=30):
        yield


def _photo() -> SimpleUploadedFile:
    return SimpleUploadedFile("cat.jpg", jpeg_bytes(), "image/jpeg")


def test_it_answers_a_script_503_with_retry_after(client, full_queue):
    response = client.post(URL, {"image": _photo()}, HTTP_ACCEPT="application/json")
    assert response.status_code == 503
    assert response["Retry-After"] == "30"
    assert response.json()["error"].startswith("The models are busy")
    assert Prediction.objects.count() == 1


def test_it_tells_a_person_to_try_again(client, full_queue):
    response = client.post(URL, {"image": _photo()})
    assert response.status_code == 503
    assert "The models are busy with other uploads" in response.content.decode()
    assert Prediction.objects.count() == 1


def test_it_takes_the_upload_when_the_queue_has_room(client, demos):
    with override_settings(QUEUE_MAX_DEPTH=1):
        assert client.post(URL, {"image": _photo()}).status_code == 302
