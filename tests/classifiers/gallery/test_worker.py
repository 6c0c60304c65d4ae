"""The look-alike gallery through a real Celery worker: staff add a photo in the
admin, a separate worker process embeds it, and visitors' photos are matched
against it by the worker too."""

from __future__ import annotations

import time

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from classifiers.models import FaceEmbedding, PersonPhoto
from tests.classifiers.faces_data import NO_FACE_PHOTO, lfw_photos, needs_lfw
from tests.workers import WAIT_LIMIT_S, wait_until_finished

pytestmark = [pytest.mark.worker, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def worker(request):
    """test_worker's worker process (one per module), under a name of our own."""
    return request.getfixturevalue("celery_worker")


def _add_in_admin(client, name: str, photos: list[tuple[str, bytes]]) -> None:
    data = {
        "name": name,
        "slug": name.lower().replace(" ", "-"),
        "photos-TOTAL_FORMS": str(len(photos)),
        "photos-INITIAL_FORMS": "0",
        "photos-MIN_NUM_FORMS": "0",
        "photos-MAX_NUM_FORMS": "1000",
    }
    for i, (filename, content) in enumerate(photos):
        data[f"photos-{i}-image"] = SimpleUploadedFile(filename, content, "image/jpeg")
        data[f"photos-{i}-source"] = "test"
    assert client.post("/admin/classifiers/person/add/", data).status_code == 302


def _wait_for_embeddings(count: int, worker) -> list[FaceEmbedding]:
    deadline = time.monotonic() + WAIT_LIMIT_S
    while time.monotonic() < deadline:
        assert worker.poll() is None, "the worker process died"
        embeddings = list(FaceEmbedding.objects.select_related("photo__person"))
        if len(embeddings) >= count:
            return embeddings
        time.sleep(0.5)
    raise AssertionError(f"no embedding within {WAIT_LIMIT_S}s; see the worker log")


def test_the_worker_records_that_an_admin_photo_shows_no_face(client, staff, demos, worker):
    client.force_login(staff)
    _add_in_admin(client, "Nobody", [("fox.jpg", NO_FACE_PHOTO.read_bytes())])
    [embedding] = _wait_for_embeddings(1, worker)
    assert embedding.model_version == demos["celebrity-lookalike"].promoted_version
    assert not embedding.has_face
    page = client.get(f"/admin/classifiers/person/{embedding.photo.person_id}/change/")
    assert "no face found: remove this photo" in page.content.decode()


@needs_lfw
def test_the_worker_embeds_admin_photos_and_finds_the_person_in_an_upload(
    client, staff, demos, worker
):
    photos = lfw_photos()
    client.force_login(staff)
    for person in ("Tony_Blair", "Gerhard_Schroeder"):
        _add_in_admin(
            client,
            person.replace("_", " "),
            [(p.name, p.read_bytes()) for p in photos[person][:2]],
        )
    embeddings = _wait_for_embeddings(4, worker)
    assert all(e.has_face for e in embeddings)

    client.logout()
    third = photos["Gerhard_Schroeder"][2]
    response = client.post(
        "/demos/celebrity-lookalike/",
        {"image": SimpleUploadedFile(third.name, third.read_bytes(), "image/jpeg")},
        HTTP_ACCEPT="application/json",
    )
    assert response.status_code == 202
    payload = wait_until_finished(client, response.json()["status_url"], worker)
    assert payload["status"] == "done"
    assert payload["result"]["label"] == "Gerhard Schroeder"
    schroeder = PersonPhoto.objects.filter(person__name="Gerhard Schroeder")
    urls = {f"{p.get_absolute_url()}?crop=face" for p in schroeder}
    assert payload["result"]["top"][0]["photo_url"] in urls
    assert 'class="bar-photo"' in payload["html"]
