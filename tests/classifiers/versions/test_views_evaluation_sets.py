"""Staff upload labelled evaluation sets (a zip, one folder per answer) for a demo."""

import io
import zipfile

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from classifiers.models import EvaluationSet
from tests.classifiers import archive_files as af
from tests.conftest import example_bytes

URL = "/demos/cats-vs-dogs/evaluation-sets/"

PHOTOS = {
    "cat/cat.jpg": "cat.jpg",
    "dog/dalmatian.jpg": "dalmatian.jpg",
    "dog/golden-retriever.jpg": "golden-retriever.jpg",
    "neither/fox-squirrel.jpg": "fox-squirrel.jpg",
}


def _zip(entries: dict[str, str]) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as zf:
        for name, example in entries.items():
            zf.writestr(name, example_bytes(example))
    return buffer.getvalue()


def _post(client, data: bytes, *, name="Pets, spring", filename="pets.zip"):
    return client.post(URL, {"archive": SimpleUploadedFile(filename, data), "name": name})


@pytest.fixture
def staff_client(client, demos, staff):
    client.force_login(staff)
    return client


def test_it_lists_no_set_at_first(staff_client):
    response = staff_client.get(URL)
    assert response.status_code == 200
    assert "No evaluation set yet" in response.content.decode()


def test_it_stores_a_zip_of_labelled_folders(staff_client, demos, staff):
    response = _post(staff_client, _zip(PHOTOS))
    assert response.status_code == 302
    assert response["Location"] == URL
    evaluation_set = EvaluationSet.objects.get()
    assert (evaluation_set.demo, evaluation_set.name, evaluation_set.uploaded_by) == (
        demos["cats-vs-dogs"],
        "Pets, spring",
        staff,
    )
    assert evaluation_set.label_counts == {"cat": 1, "dog": 2, "neither": 1}

    html = staff_client.get(URL).content.decode()
    assert "Added “Pets, spring” (4 photos): new versions are measured on it." in html
    assert "cat: 1, dog: 2, neither: 1" in html
    assert "<td>staff</td>" in html


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (_zip({**PHOTOS, "horse/fox-squirrel.jpg": "fox-squirrel.jpg"}), "is not an answer of"),
        (b"GIF89a, not a zip", "The evaluation set must be a zip file."),
        (_zip({**PHOTOS, "../dog/escape.jpg": "dalmatian.jpg"}), "Refused path in the zip"),
        (_zip({"cat.jpg": "cat.jpg"}), "is not inside a label folder"),
    ],
    ids=["unknown-label", "not-a-zip", "path-traversal", "no-folder"],
)
def test_it_refuses_a_bad_archive_and_says_why(staff_client, data, message):
    response = _post(staff_client, data)
    assert response.status_code == 400
    assert message in response.content.decode()
    assert not EvaluationSet.objects.exists()


def test_it_refuses_a_photo_that_is_not_an_image(staff_client):
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as zf:
        zf.writestr("cat/notes.jpg", b"not a photo at all")
    response = _post(staff_client, buffer.getvalue())
    assert response.status_code == 400
    assert "cat/notes.jpg" in response.content.decode()
    assert not EvaluationSet.objects.exists()


def test_it_is_for_staff_only(client, demos, alice):
    response = client.get(URL)
    assert response.status_code == 302
    assert response["Location"] == f"/accounts/login/?next={URL}"
    client.force_login(alice)
    assert client.get(URL).status_code == 403
    assert _post(client, _zip(PHOTOS)).status_code == 403
    assert not EvaluationSet.objects.exists()


def test_it_is_listed_read_only_in_the_admin(staff_client):
    _post(staff_client, _zip(PHOTOS))
    response = staff_client.get("/admin/classifiers/evaluationset/")
    assert response.status_code == 200
    html = response.content.decode()
    assert "Pets, spring" in html
    assert "Add evaluation set" not in html


# -- hostile archives: refused with a reason, before anything is unpacked ------------


def _hostile(*members) -> bytes:
    honest = [af.deflated(name, example_bytes(example)) for name, example in PHOTOS.items()]
    return af.build(*honest, *members)


def _bomb_entry():
    return af.zeros("dog/zeros.jpg", 450 * af.MiB)  # 450 MB of zeros in ~450 KB


def _lying_entry():
    member = af.zeros("dog/liar.jpg", 64 * af.MiB)
    member.size = 2000  # says 2 KB, inflates to 64 MB
    return member


def _corrupt_entry():
    member = af.deflated("dog/broken.jpg", example_bytes("dalmatian.jpg"))
    member.stored = b"\xff" * len(member.stored)  # zlib.error: invalid block type
    return member


@pytest.mark.parametrize(
    ("member", "message"),
    [
        (_bomb_entry, "dog/zeros.jpg unpacks to 450 MB; one file may unpack to at most 10 MB."),
        (_lying_entry, "dog/liar.jpg inflates past the 2 KB its header declares"),
        (_corrupt_entry, "dog/broken.jpg is damaged: its compressed data is corrupt."),
    ],
    ids=["bomb-entry", "lying-declared-size", "corrupt-entry"],
)
def test_it_refuses_a_hostile_archive_with_400_and_a_reason(staff_client, member, message):
    response = _post(staff_client, _hostile(member()))
    assert response.status_code == 400
    assert message in response.content.decode()
    assert not EvaluationSet.objects.exists()
