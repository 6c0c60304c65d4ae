"""Every error is JSON {"error", "code", ...} with the right status: never HTML, never a 500."""

import io
import json

from django.test import override_settings
from PIL import Image
from rest_framework.test import APIClient

from classifiers.models import Demo, Prediction
from tests.classifiers.api.conftest import photo, upload
from tests.conftest import jpeg_bytes


def _error(response, status: int, code: str) -> dict:
    assert response.status_code == status, response.content
    assert response["Content-Type"] == "application/json"
    body = response.json()
    assert body["code"] == code
    assert body["error"]
    return body


def test_it_answers_400_with_each_missing_field(anon, demos):
    body = _error(anon.post("/api/v1/predictions/", {}, format="multipart"), 400, "invalid")
    assert set(body["fields"]) == {"demo", "image"}
    assert "demo: This field is required." in body["error"]


def test_it_answers_404_to_an_unknown_demo(anon, demos):
    body = _error(upload(anon, demo="no-such-demo"), 404, "not_found")
    assert body["error"] == "No demo has this slug; see GET /api/v1/demos/."


def test_it_answers_400_to_a_demo_that_takes_no_uploads_yet(anon, demos):
    Demo.objects.filter(slug="dog-breeds").update(promoted_version=None)
    body = _error(upload(anon, demo="dog-breeds"), 400, "demo_not_served")
    assert "coming soon" in body["error"]


def test_it_answers_400_to_a_file_that_is_no_image(anon, demos):
    body = _error(upload(anon, data=b"%PDF-1.4 not a photo"), 400, "bad_image")
    assert body["error"] == "The file is not an image we can read."


def test_it_answers_400_to_an_empty_file(anon, demos):
    _error(upload(anon, data=b""), 400, "invalid")


def test_it_answers_400_to_a_truncated_jpeg(anon, demos):
    data = jpeg_bytes(size=(300, 200))
    body = _error(upload(anon, data=data[: len(data) // 2]), 400, "bad_image")
    assert "damaged or incomplete" in body["error"]
    assert not Prediction.objects.exists()


def test_it_answers_401_to_a_bad_token(demos):
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION="Token not-a-real-token")
    for response in (client.get("/api/v1/demos/"), upload(client)):
        _error(response, 401, "authentication_failed")
        assert response["WWW-Authenticate"] == "Token"
    assert not Prediction.objects.exists()


def test_it_answers_401_to_a_revoked_token(alice_api, alice, demos):
    alice.auth_token.delete()
    _error(alice_api.get("/api/v1/predictions/"), 401, "authentication_failed")


def test_it_answers_403_to_a_session_without_its_csrf_token(alice, demos):
    browser = APIClient(enforce_csrf_checks=True)
    browser.force_login(alice)
    body = _error(upload(browser), 403, "permission_denied")
    assert "CSRF" in body["error"]
    assert not Prediction.objects.exists()


def test_it_answers_404_in_json_under_the_api(anon, db):
    _error(anon.get("/api/v1/predictions/7d5d2c38-4b7e-4c1c-9d5c-3d2d7c0f0a11/"), 404, "not_found")
    _error(anon.get("/api/v1/predictions/not-a-uuid/"), 404, "not_found")
    _error(anon.get("/api/v1/no-such-thing/"), 404, "not_found")


def test_it_still_answers_html_404_outside_the_api(client):
    response = client.get("/no-such-page/")
    assert response.status_code == 404
    assert "application/json" not in response["Content-Type"]


@override_settings(UPLOAD_MAX_BYTES=2000)
def test_it_answers_413_to_a_file_over_the_limit(anon, demos):
    data = jpeg_bytes(size=(400, 300), quality=95)
    assert len(data) > 2000
    body = _error(upload(anon, data=data), 413, "too_large")
    assert "larger than" in body["error"]
    assert not Prediction.objects.exists()


@override_settings(UPLOAD_MAX_PIXELS=100)
def test_it_answers_413_to_an_image_over_the_pixel_limit(anon, demos):
    _error(upload(anon, data=jpeg_bytes(size=(20, 20))), 413, "too_large")


def test_it_answers_415_to_a_json_body(anon, demos):
    response = anon.post(
        "/api/v1/predictions/",
        json.dumps({"demo": "cats-vs-dogs", "image": "aGVsbG8="}),
        content_type="application/json",
    )
    body = _error(response, 415, "unsupported_media_type")
    assert "application/json" in body["error"]


def test_it_answers_415_to_an_image_format_it_refuses(anon, demos):
    tiff = io.BytesIO()
    Image.new("RGB", (32, 32), (10, 20, 30)).save(tiff, format="TIFF")
    response = anon.post(
        "/api/v1/predictions/",
        {"demo": "cats-vs-dogs", "image": photo(tiff.getvalue(), "scan.tiff", "image/tiff")},
        format="multipart",
    )
    body = _error(response, 415, "unsupported_image")
    assert "TIFF files are not accepted" in body["error"]


def test_it_answers_405_in_json(anon, db):
    _error(anon.put("/api/v1/demos/"), 405, "method_not_allowed")


def test_it_answers_a_bug_with_json_not_an_html_page(monkeypatch):
    from classifiers.api import views

    def broken():
        raise RuntimeError("a bug")

    monkeypatch.setattr(views.selectors, "demo_list", broken)
    response = APIClient(raise_request_exception=False).get("/api/v1/demos/")
    assert response.status_code == 500
    assert response.json() == {"error": "Server error.", "code": "server_error"}
