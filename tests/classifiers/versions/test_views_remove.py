"""Staff remove a version that failed validation: its file goes, its record stays."""

import pytest
from django.core.files.storage import default_storage
from django.core.files.uploadedfile import SimpleUploadedFile

from classifiers.models import ModelVersion, ModelVersionStatus
from classifiers.versions import services as version_services
from classifiers.versions import worker as version_worker
from tests.classifiers import model_files

URL = "/demos/cats-vs-dogs/versions/7/remove/"


@pytest.fixture
def demo(demos):
    return demos["cats-vs-dogs"]


def _invalid(demo, tmp_path, user=None, name="broken.keras") -> ModelVersion:
    path = model_files.corrupt(tmp_path / name)
    version = version_services.model_version_upload(
        demo=demo,
        artifact=SimpleUploadedFile(path.name, path.read_bytes()),
        labels=model_files.LABELS,
        input_spec=model_files.SPEC,
        name="Broken upload",
        user=user,
    )
    version_worker.model_version_validate(version_id=version.pk)
    version.refresh_from_db()
    assert version.status == ModelVersionStatus.INVALID
    return version


def test_it_removes_an_invalid_version_and_its_file_and_keeps_the_record(
    client, demo, staff, tmp_path
):
    version = _invalid(demo, tmp_path, user=staff)
    stored = version.artifact.name
    assert default_storage.exists(stored)
    client.force_login(staff)
    html = client.get("/demos/cats-vs-dogs/versions/7/").content.decode()
    assert 'href="/demos/cats-vs-dogs/versions/7/remove/"' in html

    html = client.get(URL).content.decode()
    assert "Remove v7 · Broken upload?" in html
    assert "Its uploaded file is deleted." in html

    response = client.post(URL)

    assert response.status_code == 302
    assert response["Location"] == "/demos/cats-vs-dogs/versions/"
    assert not default_storage.exists(stored)
    version.refresh_from_db()  # the row stays: the record of the upload
    assert version.is_removed
    assert version.status_reason.startswith("Removed by staff on ")
    assert "its file was deleted. It was invalid: The file is not a valid .keras archive" in (
        version.status_reason
    )
    html = client.get(response["Location"]).content.decode()
    assert "v7 was removed: its file is deleted, its record kept." in html
    assert '<span class="pill status-removed">removed</span>' in html
    detail = client.get("/demos/cats-vs-dogs/versions/7/").content.decode()
    assert "Status: removed" in detail
    assert "Validate again" not in detail
    assert "/remove/" not in detail


def test_a_second_removal_changes_nothing(client, demo, staff, tmp_path):
    _invalid(demo, tmp_path)
    client.force_login(staff)
    client.post(URL)
    response = client.post(URL)
    assert response.status_code == 400
    assert "v7 was removed already." in response.content.decode()


def test_a_ready_version_is_not_removed(client, demo, staff):
    client.force_login(staff)
    response = client.post("/demos/cats-vs-dogs/versions/1/remove/")
    assert response.status_code == 400
    assert "Only an invalid version can be removed; v1 is ready." in response.content.decode()
    version = demo.versions.get(number=1)
    assert default_storage.exists(version.artifact.name)
    assert not version.is_removed


def test_a_file_that_a_ready_version_shares_is_kept(client, demo, staff, tmp_path):
    """Files are stored by content: the same bytes uploaded again as a bad
    version share the file of the good one."""
    served = demo.promoted_version
    with served.artifact.open("rb") as f:
        data = f.read()
    version = version_services.model_version_upload(
        demo=demo,
        artifact=SimpleUploadedFile("same.keras", data),
        labels=["only one label"],  # wrong: the version is invalid, its file is not
        input_spec=served.input_spec,
        name="Same file, wrong labels",
    )
    version_worker.model_version_validate(version_id=version.pk)
    version.refresh_from_db()
    assert version.status == ModelVersionStatus.INVALID
    assert version.artifact.name == served.artifact.name

    client.force_login(staff)
    assert client.post(URL).status_code == 302
    assert default_storage.exists(served.artifact.name)


def test_the_audit_trail_of_a_removed_version_that_was_served_once_is_kept(client, demo, staff):
    v1 = demo.versions.get(number=1)
    fields = {f.name: getattr(v1, f.name) for f in ModelVersion._meta.fields if f.name != "id"}
    version = ModelVersion.objects.create(**{**fields, "number": 7, "name": "Served once"})
    version_services.model_version_promote(version=version, actor=staff, reason="try")
    version_services.model_version_rollback(demo=demo, actor=staff, reason="worse")
    ModelVersion.objects.filter(pk=version.pk).update(
        status=ModelVersionStatus.INVALID, status_reason="Validated again: NaN outputs."
    )
    client.force_login(staff)

    assert client.post(URL).status_code == 302

    audit = client.get("/demos/cats-vs-dogs/versions/").content.decode()
    audit = audit[audit.index('id="audit"') :]
    assert "v3 → v7" in audit and "v7 → v3" in audit
    assert default_storage.exists(v1.artifact.name)  # v1 shares the file and is ready
