"""“Validate again”: a version validated before its demo had an evaluation set
is fitted and measured once one is added."""

import io
import zipfile

import pytest
from django.conf import settings
from django.core.files.uploadedfile import SimpleUploadedFile

from classifiers.catalog import imagenet_labels
from classifiers.models import ModelVersion, ModelVersionStatus
from classifiers.versions import services as version_services
from classifiers.versions import worker as version_worker
from tests.classifiers import model_files
from tests.conftest import EXAMPLES

SPEC = {"preprocessing": "lite", "crop": 0.875, "resample": "bicubic"}  # size: the model's


@pytest.fixture
def demo(demos):
    return demos["cats-vs-dogs"]


def _evaluation_zip() -> SimpleUploadedFile:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as zf:
        for folder, name in [
            ("cat", "cat.jpg"),
            ("dog", "golden-retriever.jpg"),
            ("dog", "dalmatian.jpg"),
            ("neither", "fox-squirrel.jpg"),
        ]:
            zf.write(EXAMPLES / name, f"{folder}/{name}")
    return SimpleUploadedFile("eval.zip", buffer.getvalue(), content_type="application/zip")


def _upload(demo, path, *, labels=None, spec=SPEC, user=None) -> ModelVersion:
    with path.open("rb") as f:
        artifact = SimpleUploadedFile(path.name, f.read())
    return version_services.model_version_upload(
        demo=demo,
        artifact=artifact,
        labels=labels or model_files.LABELS,
        input_spec=spec,
        name="Lite0 again",
        user=user,
    )


def _validated(version: ModelVersion) -> ModelVersion:
    version_worker.model_version_validate(version_id=version.pk)
    version.refresh_from_db()
    return version


def test_validating_again_measures_a_version_on_the_evaluation_set_added_since(
    client, demo, staff, django_capture_on_commit_callbacks
):
    lite0 = settings.ML_MODELS_DIR / "efficientnet_lite0.keras"
    version = _validated(_upload(demo, lite0, labels=imagenet_labels(), user=staff))
    assert version.status == ModelVersionStatus.READY, version.status_reason
    assert version.input_spec["size"] == 224  # read from the network
    client.force_login(staff)
    html = client.get("/demos/cats-vs-dogs/versions/7/").content.decode()
    assert "Not measured: no evaluation set when it was validated." in html
    assert "Validate again" in html
    assert "no evaluation set yet" in html

    version_services.evaluation_set_create(demo=demo, archive=_evaluation_zip(), name="examples")
    html = client.get("/demos/cats-vs-dogs/versions/7/").content.decode()
    assert "“Validate again” measures it on “examples”" in html

    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        response = client.post("/demos/cats-vs-dogs/versions/7/validate/")
    assert response.status_code == 302
    assert len(callbacks) == 1  # the validation task, after commit
    version.refresh_from_db()
    assert (version.status, version.metrics) == (ModelVersionStatus.UPLOADED, {})
    html = client.get(response["Location"]).content.decode()
    assert "v7 is queued to be validated again." in html
    assert '<meta http-equiv="refresh" content="3">' in html

    version = _validated(version)  # the worker
    assert version.status == ModelVersionStatus.READY, version.status_reason
    assert "Fitted and measured on evaluation set “examples”" in version.status_reason
    assert version.metrics["accuracy"] is not None
    assert version.metrics["reliability"]["bins"]
    html = client.get("/demos/cats-vs-dogs/versions/7/").content.decode()
    assert "evaluation set “examples”" in html[html.index("<h2>Figures</h2>") :]
    assert '<svg xmlns="http://www.w3.org/2000/svg" class="chart" id="reliability-v7"' in html


def test_an_invalid_version_can_be_validated_again(client, demo, staff, tmp_path):
    version = _validated(
        _upload(demo, model_files.valid(tmp_path / "m.keras"), spec={**SPEC, "size": 64})
    )
    assert version.status == ModelVersionStatus.INVALID
    client.force_login(staff)
    response = client.post("/demos/cats-vs-dogs/versions/7/validate/")
    assert response.status_code == 302
    version.refresh_from_db()
    assert (version.status, version.status_reason) == (ModelVersionStatus.UPLOADED, "")


def test_the_served_version_is_not_validated_again(client, demo, staff):
    client.force_login(staff)
    html = client.get("/demos/cats-vs-dogs/versions/3/").content.decode()
    assert "Validate again" not in html

    response = client.post("/demos/cats-vs-dogs/versions/3/validate/")

    assert response.status_code == 400
    assert (
        "v3 is served: validating it again would change how it answers while it is served."
        in response.content.decode()
    )
    demo.refresh_from_db()
    assert demo.promoted_version.status == ModelVersionStatus.READY


def test_a_version_being_validated_is_not_queued_twice(
    client, demo, staff, tmp_path, django_capture_on_commit_callbacks
):
    _upload(demo, model_files.valid(tmp_path / "m.keras"))  # uploaded, not yet validated
    client.force_login(staff)
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        response = client.post("/demos/cats-vs-dogs/versions/7/validate/")
    assert response.status_code == 400
    assert "v7 is being validated already." in response.content.decode()
    assert callbacks == []


def test_a_version_whose_file_is_gone_asks_for_a_new_upload(client, demo, staff, tmp_path):
    version = _validated(_upload(demo, model_files.corrupt(tmp_path / "broken.keras")))
    version_worker.invalid_version_files_remove()
    client.force_login(staff)
    response = client.post("/demos/cats-vs-dogs/versions/7/validate/")
    assert response.status_code == 400
    assert "The file of v7 is gone" in response.content.decode()
    version.refresh_from_db()
    assert version.status == ModelVersionStatus.INVALID
