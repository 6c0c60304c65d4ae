import io

import pytest
from django.core.files.storage import default_storage
from django.core.files.uploadedfile import SimpleUploadedFile
from PIL import Image

from classifiers.gallery import services as gallery_services
from classifiers.gallery.tasks import embed_gallery_photo
from classifiers.models import FaceEmbedding, Person, PersonPhoto
from tests.classifiers.faces_data import NO_FACE_PHOTO
from tests.conftest import jpeg_bytes

CHANGELISTS = ["/admin/classifiers/person/", "/admin/classifiers/faceembedding/"]


@pytest.fixture
def queued(monkeypatch) -> list[int]:
    """Photo ids sent to the worker (no broker in these tests)."""
    sent: list[int] = []
    monkeypatch.setattr(embed_gallery_photo, "delay", lambda photo_id: sent.append(photo_id))
    return sent


@pytest.fixture
def ada(demos) -> Person:
    person = gallery_services.person_get_or_create(name="Ada Lovelace")[0]
    gallery_services.person_photo_add(
        person=person, data=NO_FACE_PHOTO.read_bytes(), source="test", embed_now=True
    )
    return person


def _inline(prefix="photos", total=1, initial=0, **fields) -> dict:
    data = {
        f"{prefix}-TOTAL_FORMS": str(total),
        f"{prefix}-INITIAL_FORMS": str(initial),
        f"{prefix}-MIN_NUM_FORMS": "0",
        f"{prefix}-MAX_NUM_FORMS": "1000",
    }
    data.update({f"{prefix}-{key}": value for key, value in fields.items()})
    return data


@pytest.mark.parametrize("url", CHANGELISTS)
def test_it_shows_staff_the_gallery(client, staff, ada, url):
    client.force_login(staff)
    response = client.get(url)
    assert response.status_code == 200
    assert "Ada Lovelace" in response.content.decode()


@pytest.mark.parametrize("url", CHANGELISTS)
def test_it_sends_a_stranger_to_the_admin_login(client, bob, ada, url):
    client.force_login(bob)
    response = client.get(url)
    assert response.status_code == 302
    assert response["Location"] == f"/admin/login/?next={url}"


@pytest.mark.parametrize("url", CHANGELISTS)
def test_it_sends_an_anonymous_visitor_to_the_admin_login(client, ada, url):
    response = client.get(url)
    assert response.status_code == 302
    assert response["Location"].startswith("/admin/login/")


def test_a_stranger_cannot_add_a_person(client, bob, demos):
    client.force_login(bob)
    response = client.post(
        "/admin/classifiers/person/add/",
        {"name": "Mallory", "slug": "mallory", **_inline()},
    )
    assert response.status_code == 302
    assert not Person.objects.exists()


def test_staff_adds_a_person_with_a_photo_that_a_worker_embeds(
    client, staff, demos, queued, django_capture_on_commit_callbacks
):
    client.force_login(staff)
    photo = SimpleUploadedFile("grace.jpg", NO_FACE_PHOTO.read_bytes(), "image/jpeg")
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(
            "/admin/classifiers/person/add/",
            {
                "name": "Grace Hopper",
                "slug": "grace-hopper",
                **_inline(**{"0-image": photo, "0-source": "Navy"}),
            },
        )
    assert response.status_code == 302
    stored = PersonPhoto.objects.get(person__name="Grace Hopper")
    assert stored.source == "Navy"
    assert stored.image.name.startswith("gallery/grace-hopper/")
    assert queued == [stored.pk]
    assert not FaceEmbedding.objects.exists()  # computed by the worker, not the web process


def test_staff_is_told_when_a_photo_is_not_an_image(client, staff, demos, queued):
    client.force_login(staff)
    junk = SimpleUploadedFile("junk.jpg", b"not an image", "image/jpeg")
    response = client.post(
        "/admin/classifiers/person/add/",
        {"name": "Grace Hopper", "slug": "grace-hopper", **_inline(**{"0-image": junk})},
    )
    assert response.status_code == 200
    assert "Upload a valid image" in response.content.decode()
    assert not Person.objects.exists()
    assert not PersonPhoto.objects.exists()


def test_staff_is_told_when_a_photo_fails_the_upload_checks(client, staff, demos, queued):
    tiff = io.BytesIO()
    Image.new("RGB", (32, 32)).save(tiff, format="TIFF")
    client.force_login(staff)
    response = client.post(
        "/admin/classifiers/person/add/",
        {
            "name": "Grace Hopper",
            "slug": "grace-hopper",
            **_inline(**{"0-image": SimpleUploadedFile("g.tif", tiff.getvalue(), "image/tiff")}),
        },
    )
    assert response.status_code == 200
    assert "TIFF files are not accepted" in response.content.decode()
    assert not PersonPhoto.objects.exists()


def test_staff_sees_when_a_photo_shows_no_face(client, staff, ada):
    client.force_login(staff)
    html = client.get(f"/admin/classifiers/person/{ada.pk}/change/").content.decode()
    assert "no face found: remove this photo" in html
    photo = ada.photos.get()
    assert f'src="/gallery/photos/{photo.pk}/"' in html


def test_staff_removes_a_photo(client, staff, ada, django_capture_on_commit_callbacks):
    photo = ada.photos.get()
    client.force_login(staff)
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(
            f"/admin/classifiers/person/{ada.pk}/change/",
            {
                "name": ada.name,
                "slug": ada.slug,
                **_inline(total=1, initial=1, **{"0-id": photo.pk, "0-DELETE": "on"}),
            },
        )
    assert response.status_code == 302
    assert not PersonPhoto.objects.exists()
    assert not FaceEmbedding.objects.exists()
    assert not default_storage.exists(photo.image.name)


def test_staff_removes_a_person_with_their_photos(
    client, staff, ada, django_capture_on_commit_callbacks
):
    gallery_services.person_photo_add(person=ada, data=jpeg_bytes())
    names = [p.image.name for p in ada.photos.all()]
    client.force_login(staff)
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(f"/admin/classifiers/person/{ada.pk}/delete/", {"post": "yes"})
    assert response.status_code == 302
    assert not Person.objects.exists()
    assert not any(default_storage.exists(name) for name in names)


def test_staff_cannot_edit_embeddings(client, staff, ada):
    client.force_login(staff)
    embedding = FaceEmbedding.objects.get()
    assert client.get("/admin/classifiers/faceembedding/add/").status_code == 403
    response = client.post(
        f"/admin/classifiers/faceembedding/{embedding.pk}/change/", {"faces": "7"}
    )
    assert response.status_code == 403
    embedding.refresh_from_db()
    assert embedding.faces == 0
