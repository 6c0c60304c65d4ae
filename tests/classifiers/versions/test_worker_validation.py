"""Uploading and validating model versions (the worker side runs in-process here)."""

import json
import tracemalloc

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from classifiers.inference.refusals import Refused
from classifiers.models import ModelVersion, ModelVersionStatus
from classifiers.versions import services as version_services
from classifiers.versions import worker as version_worker
from tests.classifiers import archive_files, model_files


def _upload(demo, path, labels=None, spec=None):
    artifact = SimpleUploadedFile(path.name, path.read_bytes())
    return version_services.model_version_upload(
        demo=demo,
        artifact=artifact,
        labels=labels or model_files.LABELS,
        input_spec=spec or model_files.SPEC,
        name=path.stem,
    )


def _validated(version):
    version_worker.model_version_validate(version_id=version.pk)
    version.refresh_from_db()
    return version


@pytest.fixture
def demo(demos):
    return demos["cats-vs-dogs"]


def test_it_stores_an_upload_as_the_next_version_and_queues_validation(
    demo, tmp_path, django_capture_on_commit_callbacks
):
    path = model_files.valid(tmp_path / "small.keras")
    served = demo.promoted_version
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        version = _upload(demo, path)
    assert len(callbacks) == 1
    assert version.status == ModelVersionStatus.UPLOADED
    assert version.number == demo.versions.count()
    import hashlib

    assert version.sha256 == hashlib.sha256(path.read_bytes()).hexdigest()
    with version.artifact.open("rb") as f:
        assert f.read() == path.read_bytes()
    demo.refresh_from_db()
    assert demo.promoted_version == served


def test_a_valid_model_without_convolutions_is_ready_and_answers_without_a_heatmap(
    demo, tmp_path, staff
):
    """Grad-CAM has no feature map to explain here: an explanation is
    optional, never a reason to refuse the model."""
    from classifiers.predictions import services as prediction_services
    from classifiers.predictions import worker as prediction_worker
    from tests.conftest import example_bytes

    version = _validated(_upload(demo, model_files.without_convolutions(tmp_path / "flat.keras")))
    assert version.status == ModelVersionStatus.READY, version.status_reason

    version_services.model_version_promote(version=version, actor=staff, reason="test")
    prediction = prediction_services.prediction_create(demo=demo, data=example_bytes("cat.jpg"))
    prediction_worker.prediction_run(prediction_id=prediction.id)
    prediction.refresh_from_db()
    assert prediction.status in ("done", "rejected"), prediction.error
    assert not prediction.heatmap


def test_a_valid_version_becomes_ready_with_figures(demo, tmp_path):
    version = _validated(_upload(demo, model_files.valid(tmp_path / "small.keras")))
    assert version.status == ModelVersionStatus.READY, version.status_reason
    assert version.metrics["latency_p50_ms"] > 0
    assert "Loads safely" in version.status_reason
    assert version.validated_at is not None


@pytest.mark.parametrize(
    "build, filename, reason",
    [
        (model_files.with_lambda, "lambda.keras", "contains code (a Lambda layer"),
        (model_files.h5, "model.h5", "Only .keras files are accepted"),
        (model_files.corrupt, "broken.keras", "not a valid .keras archive"),
        (model_files.wrong_output_size, "ten.keras", "output (None, 10) but 1000 labels"),
        (model_files.outputs_nan, "nan.keras", "NaN or infinite outputs"),
    ],
)
def test_a_bad_version_ends_invalid_with_its_reason_and_the_served_one_stays(
    demo, tmp_path, build, filename, reason
):
    served = demo.promoted_version
    version = _validated(_upload(demo, build(tmp_path / filename)))
    assert version.status == ModelVersionStatus.INVALID
    assert reason in version.status_reason
    demo.refresh_from_db()
    assert demo.promoted_version == served
    with pytest.raises(Refused, match="not ready"):
        version_services.model_version_promote(version=version)


def test_a_keras_file_whose_config_unpacks_to_a_gigabyte_is_refused_before_keras_reads_it(
    demo, tmp_path
):
    """1 GiB of zeros deflates to about 1 MB: the worker must refuse it from the
    zip's directory, not after Keras has read the whole config into memory."""
    path = tmp_path / "bomb.keras"
    path.write_bytes(
        archive_files.keras_like(archive_files.zeros("config.json", archive_files.GiB))
    )
    assert path.stat().st_size < 2 * archive_files.MiB
    version = _upload(demo, path)

    tracemalloc.start()
    try:
        _validated(version)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()

    assert version.status == ModelVersionStatus.INVALID
    assert version.status_reason == (
        "Refused before loading: config.json unpacks to 1.0 GB; one file may unpack to at "
        "most 16 MB."
    )
    assert peak < 64 * archive_files.MiB  # Python's allocations while validating


def test_a_keras_file_with_a_corrupt_member_is_invalid_with_the_reason(demo, tmp_path):
    config = archive_files.deflated("config.json", b'{"class_name": "Functional"}' * 100)
    config.stored = b"\xff" * len(config.stored)
    path = tmp_path / "corrupt.keras"
    path.write_bytes(archive_files.keras_like(config))
    version = _validated(_upload(demo, path))
    assert version.status == ModelVersionStatus.INVALID
    assert version.status_reason == (
        "Refused before loading: config.json is damaged: its compressed data is corrupt."
    )


def test_the_code_in_a_refused_model_never_runs(demo, tmp_path):
    marker = tmp_path / "code-ran"
    path = model_files.with_code_that_leaves_a_mark(tmp_path / "evil.keras", marker)
    version = _validated(_upload(demo, path))
    assert version.status == ModelVersionStatus.INVALID
    assert not marker.exists()

    # The same file opened unsafely does run its code: the check above means something.
    import keras

    # safe_mode=False for this one call: keras.config.enable_unsafe_deserialization()
    # would switch safe mode off for the whole process (Keras 3.15 has no way
    # back), and every later test's "safe" load would run code.
    keras.saving.load_model(path, safe_mode=False)
    assert marker.read_text() == "ran"


def test_input_size_must_match_the_size_given(demo, tmp_path):
    spec = {**model_files.SPEC, "size": 64}
    version = _validated(_upload(demo, model_files.valid(tmp_path / "s.keras"), spec=spec))
    assert version.status == ModelVersionStatus.INVALID
    assert "the size given with the upload is 64" in version.status_reason


def test_validation_runs_once_even_if_the_task_is_delivered_twice(demo, tmp_path):
    version = _upload(demo, model_files.valid(tmp_path / "small.keras"))
    assert version_worker.model_version_validate(version_id=version.pk) is not None
    assert version_worker.model_version_validate(version_id=version.pk) is None


@pytest.mark.parametrize(
    "labels, spec, message",
    [
        ("not a list", None, "Labels must be a JSON list"),
        (model_files.LABELS, {"size": 32, "preprocessing": "magic"}, "Input spec"),
    ],
)
def test_it_refuses_bad_labels_or_spec_before_storing(demo, tmp_path, labels, spec, message):
    before = ModelVersion.objects.count()
    with pytest.raises(Refused, match=message):
        _upload(demo, model_files.valid(tmp_path / "m.keras"), labels=labels, spec=spec)
    assert ModelVersion.objects.count() == before


def test_it_refuses_a_file_over_the_size_cap(demo, tmp_path, settings):
    settings.MODEL_UPLOAD_MAX_BYTES = 100
    with pytest.raises(Refused, match="larger than"):
        _upload(demo, model_files.valid(tmp_path / "m.keras"))


def test_labels_file_must_be_a_json_list():
    assert version_services.labels_from_json(json.dumps(["a", "b"]).encode()) == ["a", "b"]
    with pytest.raises(Refused, match="not valid JSON"):
        version_services.labels_from_json(b"{oops")


def test_promote_then_rollback_writes_audit_rows(demo, tmp_path, staff):
    served = demo.promoted_version
    version = _validated(_upload(demo, model_files.valid(tmp_path / "small.keras")))
    promotion = version_services.model_version_promote(
        version=version, actor=staff, reason="faster"
    )
    assert (promotion.from_version, promotion.to_version, promotion.actor) == (
        served,
        version,
        staff,
    )
    rollback = version_services.model_version_rollback(demo=demo, actor=staff, reason="worse")
    demo.refresh_from_db()
    assert demo.promoted_version == served
    assert (rollback.action, rollback.from_version, rollback.to_version, rollback.reason) == (
        "rollback",
        version,
        served,
        "worse",
    )


def test_a_version_stuck_validating_after_a_lost_worker_is_validated_again(demo, tmp_path):
    from datetime import timedelta

    from django.utils import timezone

    version = _upload(demo, model_files.valid(tmp_path / "small.keras"))
    ModelVersion.objects.filter(pk=version.pk).update(
        status=ModelVersionStatus.VALIDATING, created_at=timezone.now() - timedelta(hours=2)
    )
    assert _validated(version).status == ModelVersionStatus.READY


def test_a_version_validating_right_now_is_not_claimed_twice(demo, tmp_path):
    version = _upload(demo, model_files.valid(tmp_path / "small.keras"))
    ModelVersion.objects.filter(pk=version.pk).update(status=ModelVersionStatus.VALIDATING)
    assert version_worker.model_version_validate(version_id=version.pk) is None


def test_promoting_the_served_version_is_refused(demo):
    with pytest.raises(Refused, match="already served"):
        version_services.model_version_promote(version=demo.promoted_version)
    assert demo.promotions.count() == 1


def test_the_uploaders_name_stays_on_the_version_after_the_account_is_gone(
    client, demo, tmp_path, staff, django_user_model
):
    uploader = django_user_model.objects.create_user("ada-ops", password="x", is_staff=True)
    artifact = SimpleUploadedFile(
        "small.keras", model_files.valid(tmp_path / "s.keras").read_bytes()
    )
    version = version_services.model_version_upload(
        demo=demo,
        artifact=artifact,
        labels=model_files.LABELS,
        input_spec=model_files.SPEC,
        name="small",
        user=uploader,
    )
    uploader.delete()
    client.force_login(staff)
    page = client.get(f"/demos/cats-vs-dogs/versions/{version.number}/").content.decode()
    assert "by ada-ops" in page


# -- what the model itself declares ---------------------------------------------------

SPEC_WITHOUT_SIZE = {k: v for k, v in model_files.SPEC.items() if k != "size"}


def test_the_input_size_is_read_from_the_model_when_the_upload_leaves_it_out(demo, tmp_path):
    path = model_files.with_input(tmp_path / "s48.keras", 48, 48)
    version = _validated(_upload(demo, path, spec=SPEC_WITHOUT_SIZE))
    assert version.status == ModelVersionStatus.READY, version.status_reason
    assert version.input_spec == {**SPEC_WITHOUT_SIZE, "size": 48}
    assert "Input size 48×48 read from the model." in version.status_reason


def test_it_stores_what_the_network_is(demo, tmp_path):
    version = _validated(_upload(demo, model_files.valid(tmp_path / "small.keras")))
    architecture = version.metrics["architecture"]
    assert architecture["summary"] == (
        "A Keras functional model, 5 layers and 5 thousand parameters; it takes 32×32 RGB "
        "photos and gives 1000 probabilities."
    )
    assert (architecture["layers"], architecture["input"], architecture["outputs"]) == (
        5,
        [32, 32, 3],
        1000,
    )
    assert version.architecture == architecture["summary"]


@pytest.mark.parametrize(
    ("height", "width", "spec", "reason"),
    [
        (
            None,
            None,
            SPEC_WITHOUT_SIZE,
            "The model takes photos of any size, so the size it was trained on cannot be read "
            "from it: upload it again and give that size.",
        ),
        (32, 48, SPEC_WITHOUT_SIZE, "The model takes 32×48 photos; only square inputs are served."),
        (
            48,
            48,
            {**SPEC_WITHOUT_SIZE, "size": 64},
            "The model takes 48×48 photos (input (None, 48, 48, 3)); the size given with the "
            "upload is 64. Leave the size out to use the model's own.",
        ),
    ],
)
def test_it_says_when_the_input_size_cannot_be_served(demo, tmp_path, height, width, spec, reason):
    path = model_files.with_input(tmp_path / "m.keras", height, width)
    version = _validated(_upload(demo, path, spec=spec))
    assert version.status == ModelVersionStatus.INVALID
    assert version.status_reason == reason


def test_a_model_of_any_size_is_served_at_the_size_given(demo, tmp_path):
    path = model_files.with_input(tmp_path / "any.keras", None, None)
    version = _validated(_upload(demo, path, spec={**SPEC_WITHOUT_SIZE, "size": 40}))
    assert version.status == ModelVersionStatus.READY, version.status_reason
    assert version.input_spec["size"] == 40


def test_a_model_keras_cannot_load_gets_a_plain_reason_and_the_details_go_to_the_log(
    demo, tmp_path, caplog
):
    """A valid zip that Keras will not load (no weights): its message is
    logged, and staff read what to do."""
    import zipfile

    path = tmp_path / "odd.keras"
    with zipfile.ZipFile(path, "w") as zf:
        zf.writestr("config.json", "{}")
        zf.writestr("metadata.json", '{"keras_version": "3.0.0"}')
    version = _validated(_upload(demo, path))
    assert version.status == ModelVersionStatus.INVALID
    assert version.status_reason == (
        "Keras could not load the model. Save it with Keras 3 as a single .keras file "
        "(model.save('name.keras')) and upload that file; the details are in the worker's log."
    )
    assert "keras refused to load" in caplog.text


def test_a_custom_layer_is_named_without_the_rest_of_keras_message(demo, tmp_path):
    import zipfile

    path = tmp_path / "custom.keras"
    with zipfile.ZipFile(path, "w") as zf:
        zf.writestr(
            "config.json",
            '{"module": "mypkg", "class_name": "Foo", "config": {}, '
            '"registered_name": "mypkg>Foo"}',
        )
        zf.writestr("metadata.json", '{"keras_version": "3.0.0"}')
    version = _validated(_upload(demo, path))
    assert version.status_reason == (
        "Refused: the model uses a custom layer or object (Foo) that Keras does not know. "
        "Only built-in Keras layers are accepted."
    )


def test_a_crash_while_validating_shows_no_traceback_or_server_path(demo, tmp_path, monkeypatch):
    from classifiers.inference.imagenet import ImagenetSubsetPipeline

    def crash(*args, **kwargs):
        raise RuntimeError('Traceback (most recent call last):\n  File "/srv/app/x.py", line 1')

    monkeypatch.setattr(ImagenetSubsetPipeline, "validate", crash)
    version = _validated(_upload(demo, model_files.valid(tmp_path / "small.keras")))
    assert version.status == ModelVersionStatus.INVALID
    assert version.status_reason == (
        "Validation failed with an unexpected error (logged for the developers)."
    )


@pytest.mark.parametrize(
    ("reason", "shown"),
    [
        (
            "Could not open /srv/portfolio/media/model_versions/abc.keras: denied",
            "Could not open [path]: denied",
        ),
        ('Traceback (most recent call last):\n  File "x.py"', "Validation failed with an"),
        ("Scaled as (x - 127) / 128, see https://example.org/a/b", None),  # left as it is
    ],
)
def test_a_reason_never_shows_a_traceback_or_a_server_path(reason, shown):
    assert version_worker.plain_reason(reason).startswith(shown or reason)
