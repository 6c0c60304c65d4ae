"""Staff resolve flags: the photo goes into the demo's evaluation set with the
right label (copied: the set outlives the upload), or the flag is dismissed."""

import io
import zipfile

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from PIL import Image

from classifiers.feedback import services
from classifiers.inference.refusals import Refused
from classifiers.models import EvaluationSet, Flag
from classifiers.predictions import services as prediction_services
from classifiers.serving import pipeline_for
from classifiers.versions import services as version_services
from classifiers.versions.archives import evaluation_label_counts, evaluation_photos
from tests.classifiers.answers import answered
from tests.conftest import example_bytes


def _flag(prediction, label="cat", client_key="user:1", **extra) -> Flag:
    return services.flag_create(
        prediction=prediction, label=label, client_key=client_key, via_share=False, **extra
    )


@pytest.fixture
def cat_called_dog(demo, alice):
    """A photo of a cat that the model called a dog, flagged by its owner."""
    prediction = answered(demo, owner=alice, data=example_bytes("cat.jpg"))
    return _flag(prediction, "cat", client_key=f"user:{alice.pk}")


def _set_zip(entries: dict[str, str]) -> SimpleUploadedFile:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as zf:
        for name, example in entries.items():
            zf.writestr(name, example_bytes(example))
    return SimpleUploadedFile("pets.zip", buffer.getvalue())


def _photos(evaluation_set: EvaluationSet):
    evaluation_set.refresh_from_db()
    with evaluation_set.archive.open("rb") as archive:
        return evaluation_photos(archive)


def test_the_first_corrected_photo_makes_a_set(demo, staff, cat_called_dog):
    assert not EvaluationSet.objects.exists()
    evaluation_set = services.flag_add_to_evaluation_set(
        flag=cat_called_dog, label="cat", actor=staff
    )
    assert (evaluation_set.demo, evaluation_set.name) == (demo, "Corrected answers")
    assert evaluation_set.label_counts == {"cat": 1}
    assert evaluation_set.uploaded_by == staff
    (photo,) = _photos(evaluation_set)
    assert photo.label == "cat"
    original = Image.open(io.BytesIO(example_bytes("cat.jpg")))
    assert photo.image.size == original.size  # the upload's photo, whole

    flag = Flag.objects.get()
    assert (flag.status, flag.resolved_label, flag.evaluation_set) == (
        "added",
        "cat",
        evaluation_set,
    )
    assert (flag.resolved_by, flag.resolved_by_name) == (staff, "staff")
    assert flag.resolved_at is not None


def test_it_adds_to_the_set_validation_uses(
    demo, staff, cat_called_dog, django_capture_on_commit_callbacks
):
    version_services.evaluation_set_create(
        demo=demo, archive=_set_zip({"dog/a.jpg": "dalmatian.jpg"}), name="Old pets"
    )
    used = version_services.evaluation_set_create(
        demo=demo,
        archive=_set_zip(
            {"dog/b.jpg": "golden-retriever.jpg", "neither/c.jpg": "fox-squirrel.jpg"}
        ),
        name="Pets",
    )
    before = used.archive.name
    with django_capture_on_commit_callbacks(execute=True):
        evaluation_set = services.flag_add_to_evaluation_set(
            flag=cat_called_dog, label="cat", actor=staff
        )
    assert evaluation_set.pk == used.pk
    assert EvaluationSet.objects.count() == 2
    assert evaluation_set.label_counts == {"dog": 1, "neither": 1, "cat": 1}
    labels = sorted((p.label, p.name.split("/")[0]) for p in _photos(evaluation_set))
    assert labels == [("cat", "cat"), ("dog", "dog"), ("neither", "neither")]
    # Stored by content, as an uploaded set is; the zip it replaced is gone.
    assert evaluation_set.sha256 in evaluation_set.archive.name
    assert not used.archive.storage.exists(before)
    # Validation reads the newest set: still this one.
    assert demo.evaluation_sets.first() == evaluation_set


def test_the_set_is_one_a_version_can_be_measured_on(demo, staff, cat_called_dog):
    """What the evaluation-sets page checks of an uploaded set passes for the new zip."""
    evaluation_set = services.flag_add_to_evaluation_set(
        flag=cat_called_dog, label="cat", actor=staff
    )
    accepts = pipeline_for(demo, demo.promoted_version, with_gallery=False).accepts_label
    with evaluation_set.archive.open("rb") as archive:
        counts = evaluation_label_counts(archive, accepts_label=accepts, title=demo.title)
    assert counts == {"cat": 1}


def test_the_set_keeps_the_photo_after_the_upload_is_deleted(staff, cat_called_dog):
    evaluation_set = services.flag_add_to_evaluation_set(
        flag=cat_called_dog, label="cat", actor=staff
    )
    prediction_services.prediction_delete(prediction=cat_called_dog.prediction)
    assert [p.label for p in _photos(evaluation_set)] == ["cat"]
    flag = Flag.objects.get()
    assert (flag.prediction, flag.status, flag.evaluation_set) == (None, "added", evaluation_set)


def test_staff_may_correct_the_label(staff, cat_called_dog):
    evaluation_set = services.flag_add_to_evaluation_set(
        flag=cat_called_dog, label="neither", actor=staff
    )
    assert evaluation_set.label_counts == {"neither": 1}
    assert Flag.objects.get().resolved_label == "neither"


def test_a_photo_is_never_in_the_set_twice(staff, cat_called_dog):
    second = _flag(cat_called_dog.prediction, "neither", client_key="addr:someone")
    services.flag_add_to_evaluation_set(flag=cat_called_dog, label="cat", actor=staff)
    with pytest.raises(
        Refused, match="This photo is already in “Corrected answers”, labelled “cat”"
    ):
        services.flag_add_to_evaluation_set(flag=second, label="neither", actor=staff)
    assert Flag.objects.get(pk=second.pk).status == "open"
    assert EvaluationSet.objects.get().label_counts == {"cat": 1}


@pytest.mark.parametrize(
    ("label", "message"),
    [
        ("giraffe", "“giraffe” is not an answer of Cats vs dogs"),
        ("../cat", "“../cat” cannot name a folder of an evaluation set."),
        (".hidden", "“.hidden” cannot name a folder"),
        ("", "“” cannot name a folder"),
    ],
)
def test_it_refuses_a_label_a_set_cannot_hold(staff, cat_called_dog, label, message):
    with pytest.raises(Refused, match=message):
        services.flag_add_to_evaluation_set(flag=cat_called_dog, label=label, actor=staff)
    assert Flag.objects.get().status == "open"
    assert not EvaluationSet.objects.exists()


def test_a_resolved_flag_is_not_resolved_again(staff, cat_called_dog):
    services.flag_dismiss(flag=cat_called_dog, actor=staff)
    flag = Flag.objects.get()
    assert (flag.status, flag.resolved_by) == ("dismissed", staff)
    with pytest.raises(Refused, match="This flag was dismissed already."):
        services.flag_add_to_evaluation_set(flag=flag, label="cat", actor=staff)
    with pytest.raises(Refused, match="This flag was dismissed already."):
        services.flag_dismiss(flag=flag, actor=staff)


def test_a_flag_whose_upload_is_gone_can_only_be_dismissed(staff, cat_called_dog):
    prediction_services.prediction_delete(prediction=cat_called_dog.prediction)
    flag = Flag.objects.get()
    assert flag.prediction is None
    with pytest.raises(Refused, match="Its owner has deleted this upload"):
        services.flag_add_to_evaluation_set(flag=flag, label="cat", actor=staff)
    services.flag_dismiss(flag=flag, actor=staff)
    assert Flag.objects.get().status == "dismissed"


def test_a_look_alike_photo_is_added_under_the_name_written(demos, alice, staff):
    hanks = answered(
        demos["celebrity-lookalike"],
        owner=alice,
        data=example_bytes("cat.jpg"),
        outcome={"status": "done", "label": "Tom Hanks", "score": 0.2, "top": []},
    )
    flag = _flag(hanks, "Ada Lovelace")
    evaluation_set = services.flag_add_to_evaluation_set(
        flag=flag, label="Ada Lovelace", actor=staff
    )
    assert evaluation_set.label_counts == {"Ada Lovelace": 1}
    assert [p.label for p in _photos(evaluation_set)] == ["Ada Lovelace"]
