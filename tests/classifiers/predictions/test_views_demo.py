import hashlib
import io
import re

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client
from PIL import Image

from classifiers.models import Demo, Prediction, PredictionStatus
from tests.conftest import example_bytes

URL = "/demos/cats-vs-dogs/"
JSON = {"HTTP_ACCEPT": "application/json"}


def _photo(name="my-cat.jpg", data=None) -> SimpleUploadedFile:
    if data is None:
        data = example_bytes("cat.jpg")
    return SimpleUploadedFile(name, data, "image/jpeg")


def _truncated_jpeg() -> bytes:
    data = example_bytes("cat.jpg")
    return data[: len(data) // 2]


BAD_UPLOADS = {
    "truncated jpeg": (
        lambda: {"image": _photo("photo.jpg", _truncated_jpeg())},
        "The image is damaged or incomplete",
    ),
    "text file named photo.jpg": (
        lambda: {"image": _photo("photo.jpg", b"hello, I am not a photo\n" * 20)},
        "The file is not an image we can read.",
    ),
    "empty file": (
        lambda: {"image": _photo("photo.jpg", b"")},
        "The submitted file is empty.",
    ),
    "nothing": (
        lambda: {},
        "Choose a photo to upload, or click an example.",
    ),
    "example that does not exist": (
        lambda: {"example": "99"},
        "There is no such example.",
    ),
}


def test_it_shows_the_upload_form(client, demos):
    response = client.get(URL)
    assert response.status_code == 200
    html = response.content.decode()
    assert "<h1>Cats vs dogs" in html
    assert '<form id="upload-form" method="post" enctype="multipart/form-data"' in html
    assert '<input type="file" name="image"' in html
    assert 'name="example" value="0"' in html
    served = demos["cats-vs-dogs"].promoted_version
    assert f"Serving model v{served.number} · {served.name}" in html


def test_it_queues_an_uploaded_photo_and_redirects_to_it(
    client, demos, django_capture_on_commit_callbacks
):
    original = example_bytes("cat.jpg")
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        response = client.post(URL, {"image": _photo("my-cat.jpg", original)})

    prediction = Prediction.objects.get()
    assert response.status_code == 302
    assert response["Location"] == f"/predictions/{prediction.id}/"
    assert re.fullmatch(r"/predictions/[0-9a-f-]{36}/", response["Location"])
    assert len(callbacks) == 1  # the worker is told exactly once, after commit
    assert prediction.status == PredictionStatus.QUEUED
    assert prediction.demo == demos["cats-vs-dogs"]
    assert prediction.owner is None
    assert prediction.visitor_id
    assert prediction.original_name == "my-cat.jpg"
    assert prediction.image_sha256 == hashlib.sha256(original).hexdigest()
    # What is stored is a fresh JPEG, not the uploaded bytes.
    with prediction.image.open("rb") as f:
        stored = f.read()
    assert stored != original
    assert Image.open(io.BytesIO(stored)).format == "JPEG"


def test_it_shows_the_queued_prediction_after_the_redirect(client, demos):
    response = client.post(URL, {"image": _photo()}, follow=True)
    assert response.status_code == 200
    html = response.content.decode()
    assert "Queued…" in html
    assert "my-cat.jpg" in html


def test_it_answers_202_with_the_status_to_a_script(
    client, demos, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        response = client.post(URL, {"image": _photo()}, **JSON)

    prediction = Prediction.objects.get()
    assert response.status_code == 202
    body = response.json()
    assert body["id"] == str(prediction.id)
    assert body["status"] == "queued"
    assert body["finished"] is False
    assert body["status_url"] == f"/predictions/{prediction.id}/status/"
    assert 'data-status="queued"' in body["html"]
    assert len(callbacks) == 1


def test_it_classifies_a_clicked_example(client, demos, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        response = client.post(URL, {"example": "0"})

    prediction = Prediction.objects.get()
    assert response.status_code == 302
    assert response["Location"] == f"/predictions/{prediction.id}/"
    assert prediction.original_name == "cat.jpg"
    assert prediction.image_sha256 == hashlib.sha256(example_bytes("cat.jpg")).hexdigest()
    assert len(callbacks) == 1


@pytest.mark.parametrize("case", BAD_UPLOADS)
def test_it_rejects_a_bad_upload_with_a_message(
    client, demos, django_capture_on_commit_callbacks, case
):
    make_data, message = BAD_UPLOADS[case]
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        response = client.post(URL, make_data())

    assert response.status_code == 400
    assert message in response.content.decode()
    assert '<input type="file" name="image"' in response.content.decode()  # try again
    assert not Prediction.objects.exists()
    assert callbacks == []


@pytest.mark.parametrize("case", BAD_UPLOADS)
def test_it_rejects_a_bad_upload_with_a_json_error(
    client, demos, django_capture_on_commit_callbacks, case
):
    make_data, message = BAD_UPLOADS[case]
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        response = client.post(URL, make_data(), **JSON)

    assert response.status_code == 400
    assert message in response.json()["error"]
    assert not Prediction.objects.exists()
    assert callbacks == []


def test_it_rejects_a_file_over_the_size_limit(client, demos, settings):
    settings.UPLOAD_MAX_BYTES = 1024 * 1024
    # A real photo with 2 MB of trailing bytes: it would decode without the limit.
    padded = example_bytes("cat.jpg") + b"\0" * (2 * 1024 * 1024)

    response = client.post(URL, {"image": _photo("big.jpg", padded)}, **JSON)

    assert response.status_code == 413
    assert response.json() == {"error": "The file is larger than 1 MB.", "code": "too_large"}
    assert not Prediction.objects.exists()


def test_it_stores_nothing_for_a_rejected_upload(client, demos, _private_media_root):
    before = sorted(_private_media_root.rglob("predictions/**/*"))
    client.post(URL, {"image": _photo("photo.jpg", _truncated_jpeg())})
    assert sorted(_private_media_root.rglob("predictions/**/*")) == before


def _not_served(slug: str) -> str:
    """Take a demo's promoted version away, as before its first model is promoted."""
    Demo.objects.filter(slug=slug).update(promoted_version=None)
    return f"/demos/{slug}/"


def test_it_refuses_uploads_to_a_demo_that_is_coming(
    client, demos, django_capture_on_commit_callbacks
):
    url = _not_served("dog-breeds")
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        response = client.post(url, {"image": _photo()})

    assert response.status_code == 400
    assert "Dog breeds is coming soon and does not take uploads yet." in response.content.decode()
    assert not Prediction.objects.exists()
    assert callbacks == []


def test_it_refuses_uploads_to_a_demo_that_is_coming_with_a_json_error(client, demos):
    response = client.post(_not_served("dog-breeds"), {"example": "0"}, **JSON)
    assert response.status_code == 400
    assert response.json() == {
        "error": "Dog breeds is coming soon and does not take uploads yet.",
        "code": "demo_not_served",
    }
    assert not Prediction.objects.exists()


def test_it_shows_no_upload_form_for_a_demo_that_is_coming(client, demos):
    response = client.get(_not_served("dog-breeds"))
    assert response.status_code == 200
    html = response.content.decode()
    assert "This demo is coming soon: it does not take uploads yet." in html
    assert '<input type="file"' not in html


def test_it_404s_for_an_unknown_demo(client, demos):
    assert client.get("/demos/no-such-demo/").status_code == 404
    assert client.post("/demos/no-such-demo/", {"image": _photo()}).status_code == 404
    assert not Prediction.objects.exists()


def test_it_lists_this_browsers_recent_predictions(client, demos):
    client.post(URL, {"image": _photo()})
    prediction = Prediction.objects.get()

    response = client.get(URL)
    assert f'href="/predictions/{prediction.id}/"' in response.content.decode()
    # Another browser does not see them.
    assert f"/predictions/{prediction.id}/" not in Client().get(URL).content.decode()


def test_a_bug_in_the_service_is_a_server_error_not_a_form_message(demos, monkeypatch):
    """Only a Refused is the user's fault; a ValueError from a bug is a 500."""

    def broken(**kwargs):
        raise ValueError("a bug, with internals: /srv/secret/path")

    monkeypatch.setattr("classifiers.predictions.services.prediction_create", broken)
    client = Client(raise_request_exception=False)
    response = client.post(URL, {"image": _photo()})
    assert response.status_code == 500
    assert "/srv/secret/path" not in response.content.decode()


# -- the model card -------------------------------------------------------------------

INTERNAL = ("shared/data", "calibration/", "breeds-kaggle", "catsdogs-kaggle", "labels.csv")


def _model_card(html: str) -> str:
    start = html.index('id="model-card"')
    return html[start : html.index("</section>", start)]


def test_the_model_card_shows_every_figure_with_its_size_interval_and_set(client, demos):
    from django.utils.html import escape

    from classifiers.templatetags.figures import figure_text

    html = client.get("/demos/dog-breeds/").content.decode()
    card = _model_card(html)
    figures = demos["dog-breeds"].promoted_version.metrics["figures"]
    assert {f["key"] for f in figures} >= {
        "accuracy",
        "top3",
        "ece",
        "false_rejection_rate",
        "rejection_rate",
    }
    for figure in figures:
        assert f"<th>{escape(figure['label'])}</th><td>{figure_text(figure)}</td>" in card
        assert escape(figure["measured_on"]) in card
    assert re.search(r"Right breed named first</th><td>\d+\.\d% \(\d+\.\d–\d+\.\d%, 321 dog", card)
    for internal in INTERNAL:
        assert internal not in html


def test_the_calibration_details_are_for_staff_only(client, demos, staff):
    calibration = demos["dog-breeds"].promoted_version.calibration

    public = _model_card(client.get("/demos/dog-breeds/").content.decode())
    assert "tuned on 300 shelter photos of cats and dogs" in public  # in words, for anyone
    assert "Calibration details" not in public
    assert "Breed temperature" not in public
    assert str(calibration["temperature"]) not in public

    client.force_login(staff)
    for_staff = _model_card(client.get("/demos/dog-breeds/").content.decode())
    assert "<details" in for_staff and "Calibration details" in for_staff
    assert f"<th>Breed temperature</th><td>{calibration['temperature']}</td>" in for_staff
    assert f"<td>{calibration['prior_shift']}</td>" in for_staff
