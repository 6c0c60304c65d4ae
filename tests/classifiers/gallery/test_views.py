import io

import pytest
from django.utils import timezone
from PIL import Image

from classifiers.gallery import services as gallery_services
from classifiers.models import FaceEmbedding, Prediction, PredictionStatus
from tests.classifiers.faces_data import NO_FACE_PHOTO


@pytest.fixture
def photo(demos):
    person = gallery_services.person_get_or_create(name="Ada Lovelace")[0]
    return gallery_services.person_photo_add(person=person, data=NO_FACE_PHOTO.read_bytes()).photo


def test_it_serves_a_gallery_photo_to_anyone(client, photo):
    response = client.get(f"/gallery/photos/{photo.pk}/")
    assert response.status_code == 200
    assert response["Content-Type"] == "image/jpeg"
    assert response["Cache-Control"] == "public, max-age=86400"
    assert Image.open(io.BytesIO(b"".join(response.streaming_content))).format == "JPEG"


def test_it_serves_a_small_square_of_the_face(client, demos, photo):
    FaceEmbedding.objects.create(
        photo=photo,
        model_version=demos["celebrity-lookalike"].promoted_version,
        vector=[0.0] * 128,
        bbox=[10, 10, 60, 60],
        faces=1,
    )
    response = client.get(f"/gallery/photos/{photo.pk}/?crop=face")
    assert response.status_code == 200
    assert Image.open(io.BytesIO(response.content)).size == (96, 96)


def test_it_404s_for_an_unknown_photo(client, demos):
    assert client.get("/gallery/photos/987654321/").status_code == 404


def test_it_refuses_to_change_a_photo(client, photo):
    assert client.post(f"/gallery/photos/{photo.pk}/").status_code == 405


def test_the_answer_shows_each_persons_photo_and_says_why(client, alice, demos, photo):
    url = f"/gallery/photos/{photo.pk}/?crop=face"
    prediction = Prediction.objects.create(
        demo=demos["celebrity-lookalike"],
        model_version=demos["celebrity-lookalike"].promoted_version,
        owner=alice,
        image="predictions/x.jpg",
        image_sha256="0" * 64,
        status=PredictionStatus.DONE,
        created_at=timezone.now(),
        result={
            "status": "done",
            "label": "Ada Lovelace",
            "score": 0.93,
            "top": [{"label": "Ada Lovelace", "score": 0.93, "photo_url": url}],
            "reason": "2 faces found; answering for the largest",
            "details": {"faces": 2},
        },
    )
    client.force_login(alice)
    html = client.get(prediction.get_absolute_url()).content.decode()
    # The face is named once, by the label beside it (alt="" on the photo).
    assert f'<img class="bar-photo" src="{url.replace("&", "&amp;")}" alt=""' in html
    assert '<span class="bar-label">Ada Lovelace</span>' in html
    assert "2 faces found; answering for the largest" in html
    assert "<strong>Ada Lovelace</strong>" in html
