"""The request-body cap (portfolio.middleware): an oversized body is refused
with 413 from its declared length, before anything reads or spools it (finding 4:
a 400 MB body left 316 MB of temporary files before its 413)."""

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.core.files.uploadhandler import TemporaryFileUploadHandler
from django.test import override_settings

from tests.conftest import jpeg_bytes

FOUR_HUNDRED_MB = 400 * 1024 * 1024
JSON = {"HTTP_ACCEPT": "application/json"}


class RecordingUploadHandler(TemporaryFileUploadHandler):
    """Django's handler that spools a file to disk, noting that it ran."""

    started: list[str] = []

    def new_file(self, *args, **kwargs):
        RecordingUploadHandler.started.append(args[0] if args else kwargs.get("field_name"))
        return super().new_file(*args, **kwargs)


@pytest.fixture
def spool_dir(tmp_path):
    """Every upload is spooled to disk here, by a handler that records that it ran."""
    RecordingUploadHandler.started = []
    with override_settings(
        FILE_UPLOAD_HANDLERS=[f"{__name__}.RecordingUploadHandler"],
        FILE_UPLOAD_TEMP_DIR=str(tmp_path),
    ):
        yield tmp_path


def _photo() -> SimpleUploadedFile:
    return SimpleUploadedFile("cat.jpg", jpeg_bytes(), "image/jpeg")


def _declaring(length: int) -> dict:
    """A small real body sent with a Content-Length of ``length``: what a
    client streaming a huge body has declared before its first bytes arrive."""
    return {"CONTENT_LENGTH": str(length)}


def test_it_spools_an_ordinary_upload_with_the_recording_handler(client, demos, spool_dir):
    """The check below is sound: an upload that is let through does run it."""
    assert client.post("/demos/cats-vs-dogs/", {"image": _photo()}).status_code == 302
    assert RecordingUploadHandler.started == ["image"]


def test_it_refuses_a_body_declared_at_400_mb_before_any_upload_handler_runs(
    client, demos, spool_dir
):
    response = client.post(
        "/demos/cats-vs-dogs/", {"image": _photo()}, **_declaring(FOUR_HUNDRED_MB)
    )

    assert response.status_code == 413
    assert "The file is larger than 10 MB." in response.content.decode()
    assert RecordingUploadHandler.started == []
    assert list(spool_dir.iterdir()) == []


def test_it_answers_the_api_and_the_pages_script_in_json(client, demos, spool_dir):
    for url, extra in (("/api/v1/predictions/", {}), ("/demos/cats-vs-dogs/", JSON)):
        response = client.post(
            url, {"demo": "cats-vs-dogs", "image": _photo()}, **_declaring(FOUR_HUNDRED_MB), **extra
        )
        assert response.status_code == 413, url
        assert response.json() == {"error": "The file is larger than 10 MB.", "code": "too_large"}
    assert RecordingUploadHandler.started == []


@override_settings(UPLOAD_MAX_BYTES=1024 * 1024)
def test_it_refuses_just_over_a_photo_and_its_form_on_the_upload_urls(client, demos, spool_dir):
    over = 2 * 1024 * 1024 + 1  # the photo limit and the form's 1 MB margin
    for url in ("/demos/cats-vs-dogs/", "/api/v1/predictions/", "/accounts/login/"):
        assert client.post(url, {"image": _photo()}, **_declaring(over)).status_code == 413
    assert RecordingUploadHandler.started == []


@pytest.fixture
def small_limits():
    """Photos up to 1 kB and model files up to 2 MB, so real bodies can be sent."""
    with override_settings(UPLOAD_MAX_BYTES=1024, MODEL_UPLOAD_MAX_BYTES=2 * 1024 * 1024):
        yield


def _model_upload(size: int) -> dict:
    return {
        "artifact": SimpleUploadedFile("model.keras", b"\0" * size),
        "input_spec": "{}",
    }


def test_it_takes_a_model_file_from_staff_on_the_staff_upload_pages(
    client, demos, staff, small_limits
):
    client.force_login(staff)
    for url in ("/demos/cats-vs-dogs/versions/new/", "/demos/cats-vs-dogs/evaluation-sets/"):
        response = client.post(url, _model_upload(1024 * 1024 + 512 * 1024))
        assert response.status_code != 413, url


def test_it_refuses_a_large_body_on_the_staff_pages_to_anyone_else(
    client, demos, alice, small_limits, spool_dir
):
    """The staff pages would refuse them anyway, but only after reading the body."""
    url = "/demos/cats-vs-dogs/versions/new/"
    assert client.post(url, _model_upload(1024 * 1024 + 512 * 1024)).status_code == 413
    client.force_login(alice)
    assert client.post(url, _model_upload(1024 * 1024 + 512 * 1024)).status_code == 413
    assert RecordingUploadHandler.started == []


def test_it_refuses_staff_a_body_over_the_model_limit(client, demos, staff, small_limits):
    client.force_login(staff)
    response = client.post(
        "/demos/cats-vs-dogs/versions/new/",
        _model_upload(1024),
        **_declaring(3 * 1024 * 1024 + 1),
    )
    assert response.status_code == 413
    assert "The file is larger than 2 MB." in response.content.decode()


def test_it_keeps_nothing_large_in_memory(settings):
    """Over these, Django spools a body to a temporary file (bounded by the cap)."""
    assert settings.FILE_UPLOAD_MAX_MEMORY_SIZE <= 2_621_440
    assert settings.DATA_UPLOAD_MAX_MEMORY_SIZE <= 2_621_440
    assert settings.MIDDLEWARE[0] == "portfolio.middleware.RequestBodyLimitMiddleware"
