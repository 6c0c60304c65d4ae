"""A version's artifact reaches a worker through the storage only: copied into
the machine's model cache, named by its sha256 and checked against it."""

from __future__ import annotations

import hashlib

import pytest
from django.conf import settings
from django.core.files.base import ContentFile
from django.test import override_settings

from classifiers.models import ModelVersion, ModelVersionStatus, Prediction, PredictionStatus
from classifiers.predictions import services as prediction_services
from classifiers.predictions.tasks import run_prediction
from classifiers.serving import ArtifactUnavailable, local_artifact_path
from tests.conftest import example_bytes

DATA = b"model bytes " * 1000
SHA256 = hashlib.sha256(DATA).hexdigest()


@pytest.fixture
def memory_storage(tmp_path):
    """Stored files in memory: a storage with no local paths at all, as S3."""
    with override_settings(
        STORAGES={
            **settings.STORAGES,
            "default": {"BACKEND": "django.core.files.storage.InMemoryStorage"},
        },
        MODEL_CACHE_DIR=tmp_path / "model-cache",
    ):
        yield tmp_path / "model-cache"


def _version(demo, *, data: bytes = DATA, sha256: str = SHA256, store: bool = True):
    version = ModelVersion(
        demo=demo,
        number=demo.versions.count() + 1,
        name="stored elsewhere",
        sha256=sha256,
        status=ModelVersionStatus.READY,
    )
    if store:
        version.artifact.save("model.keras", ContentFile(data), save=False)
    else:
        version.artifact.name = "model_versions/gone.keras"
    version.save()
    return version


def test_it_copies_the_artifact_out_of_the_storage_named_by_its_sha256(demos, memory_storage):
    version = _version(demos["cats-vs-dogs"])

    path = local_artifact_path(version)

    assert path == memory_storage / f"{SHA256}.keras"
    assert path.read_bytes() == DATA
    version.artifact.storage.delete(version.artifact.name)
    assert local_artifact_path(version) == path  # the next load reads the cache
    assert [p.name for p in memory_storage.iterdir()] == [path.name]  # no partial left


def test_it_refuses_an_artifact_that_is_not_the_file_its_sha256_names(demos, memory_storage):
    version = _version(demos["cats-vs-dogs"], sha256="0" * 64)

    with pytest.raises(ArtifactUnavailable, match="does not match its recorded sha256"):
        local_artifact_path(version)

    assert list(memory_storage.iterdir()) == []  # nothing a later load could trust


def test_it_says_which_model_is_missing_from_the_storage(demos, memory_storage):
    version = _version(demos["cats-vs-dogs"], sha256="1" * 64, store=False)

    with pytest.raises(ArtifactUnavailable) as refused:
        local_artifact_path(version)

    assert refused.value.message == (
        f"The model file of Cats vs dogs v{version.number} is missing from storage."
    )
    assert "gone.keras" not in refused.value.message


def test_a_prediction_whose_model_is_missing_from_the_storage_fails_with_words_for_a_person(
    demos,
):
    demo = demos["cats-vs-dogs"]
    version = _version(demo, sha256="2" * 64, store=False)
    demo.promoted_version = version
    demo.save(update_fields=["promoted_version"])
    prediction = prediction_services.prediction_create(demo=demo, data=example_bytes("cat.jpg"))

    run_prediction(str(prediction.id))  # what a worker runs, here in-process

    prediction = Prediction.objects.get(id=prediction.id)
    assert prediction.status == PredictionStatus.FAILED
    assert prediction.error == (
        f"The model file of Cats vs dogs v{version.number} is missing from storage. "
        "The error has been logged."
    )
