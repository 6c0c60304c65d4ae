import io

import pytest
from django.core.management import CommandError, call_command
from PIL import Image

from classifiers.gallery.selectors import clear_gallery_cache
from classifiers.models import FaceEmbedding, Person, PersonPhoto
from classifiers.serving import run_pipeline
from tests.classifiers.faces_data import NO_FACE_PHOTO, lfw_photos, needs_lfw


@pytest.fixture
def lookalike(demos):
    clear_gallery_cache()
    yield demos["celebrity-lookalike"]
    clear_gallery_cache()


def enroll(*args) -> tuple[str, str]:
    out, err = io.StringIO(), io.StringIO()
    call_command("enroll", *map(str, args), stdout=out, stderr=err)
    return out.getvalue(), err.getvalue()


@needs_lfw
def test_it_enrolls_a_person_from_two_photos_who_is_found_again_from_a_third(lookalike):
    photos = lfw_photos()
    for person in ("Tony_Blair", "Hugo_Chavez", "Jacques_Chirac"):
        name = person.replace("_", " ")
        out, err = enroll("celebrity-lookalike", "--name", name, *photos[person][:2])
        assert f"{photos[person][0]}: enrolled for {name}" in out
        assert f"{name}: 2 photos in the celebrity-lookalike gallery" in out
        assert err == ""
    assert Person.objects.count() == 3
    assert FaceEmbedding.objects.filter(vector__isnull=False).count() == 6

    third = Image.open(photos["Hugo_Chavez"][2]).convert("RGB")
    outcome = run_pipeline(lookalike, lookalike.promoted_version, third)
    assert outcome.status == "done"
    assert outcome.label == "Hugo Chavez"


@needs_lfw
def test_it_reports_a_photo_without_a_face_and_does_not_enroll_it(lookalike):
    face = lfw_photos()["Tony_Blair"][0]
    out, err = enroll("celebrity-lookalike", "--name", "Tony Blair", face, NO_FACE_PHOTO)
    assert f"{NO_FACE_PHOTO}: skipped: no face found" in err
    assert "Tony Blair: 1 photo in the celebrity-lookalike gallery" in out
    assert PersonPhoto.objects.count() == 1
    assert FaceEmbedding.objects.get().has_face


@needs_lfw
def test_it_says_when_a_photo_is_already_in_the_gallery(lookalike):
    face = lfw_photos()["Tony_Blair"][0]
    enroll("celebrity-lookalike", "--name", "Tony Blair", face)
    out, _ = enroll("celebrity-lookalike", "--name", "tony blair", face)
    assert f"{face}: already in the gallery for Tony Blair" in out
    assert PersonPhoto.objects.count() == 1


def test_it_enrolls_no_one_when_no_photo_shows_a_face(lookalike):
    with pytest.raises(CommandError, match="no photo of Nobody was enrolled"):
        enroll("celebrity-lookalike", "--name", "Nobody", NO_FACE_PHOTO)
    assert not Person.objects.exists()
    assert not PersonPhoto.objects.exists()


def test_it_reports_files_it_cannot_read(lookalike, tmp_path):
    not_an_image = tmp_path / "notes.txt"
    not_an_image.write_text("hello")
    with pytest.raises(CommandError):
        enroll("celebrity-lookalike", "--name", "Nobody", not_an_image, tmp_path / "missing.jpg")
    assert not Person.objects.exists()


@pytest.mark.parametrize("slug", ["cats-vs-dogs", "no-such-demo"])
def test_it_refuses_a_demo_that_is_not_a_lookalike(lookalike, slug):
    with pytest.raises(CommandError, match="is not a face look-alike demo"):
        enroll(slug, "--name", "Ada", NO_FACE_PHOTO)
