"""The gallery a look-alike pipeline is given: read from the embeddings
table, cached per process, read again once it changed."""

import numpy as np
import pytest

from classifiers.gallery.selectors import clear_gallery_cache, gallery_for
from classifiers.models import FaceEmbedding, Person, PersonPhoto


def _unit(i: int) -> np.ndarray:
    v = np.zeros(128, np.float32)
    v[i] = 1.0
    return v


@pytest.fixture
def lookalike(demos):
    clear_gallery_cache()
    yield demos["celebrity-lookalike"].promoted_version
    clear_gallery_cache()


def _enrol(version, name: str, vector: np.ndarray):
    person, _ = Person.objects.get_or_create(name=name, defaults={"slug": name.lower()})
    photo = PersonPhoto.objects.create(
        person=person, image=f"gallery/{name}.jpg", image_sha256=f"{name}-{person.photos.count()}"
    )
    return FaceEmbedding.objects.create(
        photo=photo, model_version=version, vector=vector.tolist(), bbox=[0, 0, 1, 1], faces=1
    )


def test_it_reads_the_gallery_again_once_it_changed(lookalike):
    ada = _enrol(lookalike, "Ada", _unit(0))
    first = gallery_for(lookalike)
    assert first.people == ["Ada"]
    assert first.photo_urls == [f"/gallery/photos/{ada.photo_id}/?crop=face"]
    assert gallery_for(lookalike) is first  # unchanged: served from the cache

    _enrol(lookalike, "Ben", _unit(1))
    assert gallery_for(lookalike).people == ["Ada", "Ben"]

    ada.photo.delete()
    assert gallery_for(lookalike).people == ["Ben"]

    Person.objects.filter(name="Ben").update(name="Benjamin")  # no save(): bump by hand
    Person.objects.filter(name="Benjamin").first().save()
    assert gallery_for(lookalike).people == ["Benjamin"]


def test_it_leaves_photos_without_a_face_out_of_the_gallery(lookalike):
    embedding = _enrol(lookalike, "Ada", _unit(0))
    FaceEmbedding.objects.filter(pk=embedding.pk).update(vector=None)
    assert len(gallery_for(lookalike)) == 0
