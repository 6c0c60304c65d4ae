import io
import json
import zipfile

import pytest
from django.conf import settings
from django.core.files.uploadedfile import SimpleUploadedFile
from django.core.management import call_command

from classifiers.catalog import imagenet_labels
from classifiers.models import ModelVersionStatus
from classifiers.versions import services as version_services
from tests.classifiers import model_files
from tests.conftest import EXAMPLES


def _files(tmp_path, labels, spec=None):
    labels_path = tmp_path / "labels.json"
    labels_path.write_text(json.dumps(labels))
    args = ["--labels", str(labels_path)]
    if spec is not None:
        spec_path = tmp_path / "spec.json"
        spec_path.write_text(json.dumps(spec))
        args += ["--spec", str(spec_path)]
    return args


def test_it_prints_ready_and_promotes(demos, tmp_path):
    artifact = model_files.valid(tmp_path / "small.keras")
    out = io.StringIO()
    call_command(
        "add_version",
        "cats-vs-dogs",
        str(artifact),
        "--inline",
        "--promote",
        *_files(tmp_path, model_files.LABELS, model_files.SPEC),
        stdout=out,
    )
    last = out.getvalue().strip().splitlines()[-1]
    assert last.startswith("status=ready version=7 reason=Loads safely")
    demo = demos["cats-vs-dogs"]
    demo.refresh_from_db()
    assert demo.promoted_version.number == 7


def test_it_prints_invalid_and_exits_non_zero(demos, tmp_path):
    artifact = model_files.with_lambda(tmp_path / "lambda.keras")
    out = io.StringIO()
    with pytest.raises(SystemExit) as exit_info:
        call_command(
            "add_version",
            "cats-vs-dogs",
            str(artifact),
            "--inline",
            "--promote",
            *_files(tmp_path, model_files.LABELS, model_files.SPEC),
            stdout=out,
        )
    assert exit_info.value.code == 1
    last = out.getvalue().strip().splitlines()[-1]
    assert last.startswith("status=invalid version=7 reason=Refused: the model contains code")
    demo = demos["cats-vs-dogs"]
    demo.refresh_from_db()
    assert demo.promoted_version.number != 7


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


def test_a_real_network_is_fitted_and_measured_on_the_evaluation_set(demos, tmp_path):
    demo = demos["cats-vs-dogs"]
    version_services.evaluation_set_create(demo=demo, archive=_evaluation_zip(), name="examples")
    spec = demo.versions.get(number=1).input_spec
    out = io.StringIO()
    call_command(
        "add_version",
        "cats-vs-dogs",
        str(settings.ML_MODELS_DIR / "efficientnet_lite0.keras"),
        "--inline",
        *_files(tmp_path, imagenet_labels(), spec),
        stdout=out,
    )
    version = demo.versions.get(number=7)
    assert version.status == ModelVersionStatus.READY, version.status_reason
    assert version.metrics["accuracy"] is not None
    assert "evaluation set “examples”" in version.metrics["evaluated_on"]
    assert version.calibration["threshold"] > 0
    # every figure says on what, and how many, it was measured
    for figure in version.metrics["figures"]:
        assert figure["n"] > 0
        assert figure["measured_on"]
    assert any("evaluation set “examples”" in f["measured_on"] for f in version.metrics["figures"])
    assert "Fitted and measured on evaluation set" in version.status_reason


def test_without_a_spec_the_size_is_read_from_the_model_not_the_served_version(demos, tmp_path):
    """The served v3 takes 260x260; a 32x32 network is served at its own size."""
    artifact = model_files.valid(tmp_path / "small.keras")
    out = io.StringIO()
    call_command(
        "add_version",
        "cats-vs-dogs",
        str(artifact),
        "--inline",
        *_files(tmp_path, model_files.LABELS),
        stdout=out,
    )
    assert out.getvalue().strip().splitlines()[-1].startswith("status=ready version=7")
    version = demos["cats-vs-dogs"].versions.get(number=7)
    served = demos["cats-vs-dogs"].promoted_version
    assert version.input_spec == {**served.input_spec, "size": 32}
