import io

import numpy as np
import pytest
from PIL import Image

from classifiers.catalog import version_spec
from classifiers.inference.faces import (
    NO_FACE,
    FaceLookalikePipeline,
    FoundFace,
    Gallery,
    chances,
    face_crop_jpeg,
    identify,
    likeness,
    load_face_model,
    package_model_path,
)
from classifiers.inference.kinds import pipeline_class
from tests.classifiers.faces_data import (
    NO_FACE_PHOTO,
    knn_photo,
    lfw_photos,
    needs_knn,
    needs_lfw,
)

SPEC = version_spec("celebrity-lookalike-v1.json")


@pytest.fixture(scope="module")
def model():
    return load_face_model(package_model_path(SPEC["artifact"]))


def _open(path) -> Image.Image:
    image = Image.open(path).convert("RGB")
    image.thumbnail((1024, 1024))  # as every upload is stored
    return image


def _vector(model, image: Image.Image) -> np.ndarray:
    pipeline = FaceLookalikePipeline(spec=SPEC["input_spec"], gallery=Gallery.empty())
    found = pipeline.predict(model, pipeline.preprocess(image))
    assert found.vector is not None, "the test photo should show a face"
    return found.vector


def _gallery(model, photos: dict[str, list]) -> Gallery:
    people, vectors = [], []
    for person, paths in photos.items():
        for path in paths:
            people.append(person)
            vectors.append(_vector(model, _open(path)))
    return Gallery(vectors=np.stack(vectors), people=people, photo_urls=[f"/p/{p}" for p in people])


def _pipeline(gallery: Gallery) -> FaceLookalikePipeline:
    return FaceLookalikePipeline(spec=SPEC["input_spec"], gallery=gallery)


def _unit(i: int) -> np.ndarray:
    v = np.zeros(128, np.float32)
    v[i] = 1.0
    return v


def test_it_is_the_pipeline_of_the_face_lookalike_kind():
    assert pipeline_class("face-lookalike") is FaceLookalikePipeline


def test_it_answers_no_face_found_for_a_photo_without_a_face(model):
    outcome = _pipeline(Gallery.empty()).run(model, _open(NO_FACE_PHOTO))
    assert outcome.status == "rejected"
    assert outcome.reason == NO_FACE == "No face found"
    assert outcome.label is None
    assert outcome.score is None
    assert outcome.top == []


def test_a_plain_grey_picture_warms_the_model_up_and_finds_no_face(model):
    from PIL import Image

    pipeline = _pipeline(Gallery.empty())
    grey = Image.new("RGB", (320, 320), (127, 127, 127))
    assert pipeline.predict(model, pipeline.preprocess(grey)).faces == 0


SCORE = {"c0": 28.0, "s": -46.0}
LIKENESS = {"near": 0.43, "far": 0.83}
TEST_SPEC = {"score": SCORE, "likeness": LIKENESS}


def test_it_ranks_people_by_their_centroid_and_names_each_once():
    gallery = Gallery(
        vectors=np.stack([_unit(0), _unit(1), _unit(0) * 0.9 + _unit(2) * 0.1, _unit(3)]),
        people=["Ada", "Ben", "Ada", "Cy"],
        photo_urls=["/ada1", "/ben", "/ada2", "/cy"],
    )
    ranked, _ = identify(_unit(0), gallery, TEST_SPEC)
    assert [p["label"] for p in ranked] == ["Ada", "Ben", "Cy"]
    assert ranked[0]["photo_url"] == "/ada1"  # her photo nearest to the face
    assert gallery.size == 3


def test_the_chances_of_everyone_and_of_a_stranger_sum_to_one():
    rng = np.random.default_rng(7)
    for n in (1, 5, 4000):
        distances = rng.uniform(0.2, 1.2, n)
        chance = chances(distances, **SCORE)
        assert 0.0 <= chance.sum() <= 1.0
        assert (chance >= 0.5).sum() <= 1  # at most one person can be that face


def test_two_close_people_cannot_both_be_almost_surely_the_face():
    """As close as a same-person pair, each alone would be a near-certain
    match; side by side they share the chance (the old score said 98% for both)."""
    alone = chances(np.array([0.35, 0.9, 0.9]), **SCORE)[0]
    chance = chances(np.array([0.35, 0.36, 0.9]), **SCORE)
    assert alone > 0.9
    assert chance[0] + chance[1] <= 1.0
    assert chance[1] < 0.5


def test_the_same_distance_is_less_likely_a_match_in_a_larger_gallery():
    near = 0.5
    small = chances(np.array([near] + [1.0] * 9), **SCORE)[0]
    large = chances(np.array([near] + [1.0] * 3999), **SCORE)[0]
    assert large < small


def test_likeness_runs_from_a_hundred_to_zero_and_is_not_a_chance():
    assert likeness(0.2, **LIKENESS) == 100
    assert likeness(0.63, **LIKENESS) == 50
    assert likeness(1.5, **LIKENESS) == 0


def test_it_answers_with_the_top_three_people_their_chances_and_photos():
    gallery = Gallery(
        vectors=np.stack([_unit(i) for i in range(4)]),
        people=["Ada", "Ben", "Cy", "Di"],
        photo_urls=["/ada", "/ben", "/cy", "/di"],
    )
    query = _unit(1) * 0.95 + _unit(0) * 0.05
    pipeline = FaceLookalikePipeline(spec=TEST_SPEC, gallery=gallery)
    outcome = pipeline.postprocess(FoundFace(faces=1, vector=query, box=[1, 2, 3, 4]))
    assert outcome.status == "done"
    assert outcome.label == "Ben"
    assert outcome.reason == ""
    assert [item["label"] for item in outcome.top] == ["Ben", "Ada", "Cy"]
    assert [item["photo_url"] for item in outcome.top] == ["/ben", "/ada", "/cy"]
    assert outcome.score == outcome.top[0]["score"]
    assert sum(item["score"] for item in outcome.top) + outcome.details["stranger"] <= 1.0 + 1e-9
    assert outcome.details["faces"] == 1
    assert outcome.details["box"] == [1, 2, 3, 4]
    assert outcome.details["gallery_size"] == 4
    assert outcome.details["same_person"] is True


def test_it_says_you_look_most_like_when_the_chance_is_under_one_half():
    gallery = Gallery(
        vectors=np.stack([_unit(i) for i in range(4)]),
        people=["Ada", "Ben", "Cy", "Di"],
        photo_urls=["/ada", "/ben", "/cy", "/di"],
    )
    far = (_unit(1) + _unit(5)) / np.sqrt(2)  # 0.77 from Ben: alike, not him
    pipeline = FaceLookalikePipeline(spec=TEST_SPEC, gallery=gallery)
    outcome = pipeline.postprocess(FoundFace(faces=1, vector=far.astype(np.float32)))
    assert outcome.label == "Ben"
    assert outcome.score < 0.5
    assert outcome.details["same_person"] is False


def test_it_says_so_when_the_gallery_is_empty():
    outcome = _pipeline(Gallery.empty()).postprocess(FoundFace(faces=1, vector=_unit(0)))
    assert outcome.status == "rejected"
    assert outcome.reason == "The gallery has no one in it yet"


@needs_lfw
def test_it_finds_a_person_enrolled_from_two_photos_in_a_third(model):
    photos = lfw_photos()
    gallery = _gallery(model, {person: paths[:2] for person, paths in photos.items()})
    for person, paths in photos.items():
        outcome = _pipeline(gallery).run(model, _open(paths[2]))
        assert outcome.status == "done", person
        assert outcome.label == person
        assert outcome.top[0]["photo_url"] == f"/p/{person}"


def _side_by_side(big: Image.Image, small: Image.Image) -> Image.Image:
    """One photo of two people: ``big`` at full size, ``small`` at half."""
    small = small.resize((small.width // 2, small.height // 2))
    canvas = Image.new("RGB", (big.width + small.width, big.height), (128, 128, 128))
    canvas.paste(big, (0, 0))
    canvas.paste(small, (big.width, (big.height - small.height) // 2))
    return canvas.resize((canvas.width * 2, canvas.height * 2))  # faces large enough for HOG


@needs_lfw
def test_it_answers_for_the_largest_of_several_faces_and_says_so(model):
    photos = lfw_photos()
    blair, powell = photos["Tony_Blair"], photos["Colin_Powell"]
    gallery = _gallery(model, {"Tony_Blair": blair[:2], "Colin_Powell": powell[:2]})
    for big, small, expected in ((blair, powell, "Tony_Blair"), (powell, blair, "Colin_Powell")):
        photo = _side_by_side(_open(big[3]), _open(small[3]))
        outcome = _pipeline(gallery).run(model, photo)
        assert outcome.status == "done"
        assert outcome.label == expected
        assert outcome.reason == "2 faces found; answering for the largest"
        assert outcome.details["faces"] == 2


@needs_knn
def test_it_counts_the_faces_in_a_real_photo_of_two_people(model):
    outcome = _pipeline(Gallery(np.stack([_unit(0)]), ["Ada"], ["/ada"])).run(
        model, _open(knn_photo("kit_harington+rose_leslie"))
    )
    assert outcome.status == "done"
    assert outcome.details["faces"] == 2
    assert outcome.reason == "2 faces found; answering for the largest"


def test_it_crops_a_square_thumbnail_around_the_face():
    buffer = io.BytesIO()
    Image.new("RGB", (400, 300), (10, 200, 30)).save(buffer, format="JPEG")
    for box in ([300, 200, 380, 290], None):
        buffer.seek(0)
        thumbnail = Image.open(io.BytesIO(face_crop_jpeg(buffer, box)))
        assert thumbnail.format == "JPEG"
        assert thumbnail.size == (96, 96)
