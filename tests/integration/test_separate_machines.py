"""Web and worker as if on two machines: each with a media folder of its own,
sharing only an S3 endpoint (moto's server, started here), PostgreSQL and Redis.

The web side is this test process (the test client, with S3 storage and its
own MEDIA_ROOT); the worker is a real Celery process started with another
MEDIA_ROOT, another model cache and no model folder, so anything it reads
that is not in the bucket or the database would fail the answer.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import boto3
import pytest
from django.conf import settings
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import override_settings
from moto.server import ThreadedMotoServer

from classifiers.models import Prediction
from portfolio.storage import s3_storage
from tests.conftest import example_bytes
from tests.workers import running_worker, wait_until_finished

pytestmark = [pytest.mark.worker]

BUCKET = "portfolio-media"
REGION = "us-east-1"
CREDENTIALS = {"AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing"}
PUBLIC_GRANTEES = (
    "http://acs.amazonaws.com/groups/global/AllUsers",
    "http://acs.amazonaws.com/groups/global/AuthenticatedUsers",
)


@dataclass
class Site:
    endpoint: str
    web_media: Path
    web_cache: Path
    worker_media: Path
    worker_cache: Path
    logs: Path

    def s3(self):
        return boto3.client("s3", endpoint_url=self.endpoint, region_name=REGION, **_keys())

    def keys(self) -> set[str]:
        listed = self.s3().list_objects_v2(Bucket=BUCKET).get("Contents", [])
        return {entry["Key"] for entry in listed}


def _keys() -> dict[str, str]:
    return {"aws_access_key_id": "testing", "aws_secret_access_key": "testing"}


def _public_objects() -> list[str]:
    """Objects granted to all users or to any AWS account. Read in moto's own
    state (its server runs in this process): for an object stored without an
    ACL, as ours are, its GetObjectAcl has nothing to answer."""
    from moto.core import DEFAULT_ACCOUNT_ID
    from moto.s3.models import s3_backends

    bucket = s3_backends[DEFAULT_ACCOUNT_ID]["global"].get_bucket(BUCKET)
    return [
        name
        for name, key in bucket.keys.items()
        if key.acl is not None
        and any(g.uri in PUBLIC_GRANTEES for grant in key.acl.grants for g in grant.grantees)
    ]


def _files_under(folder: Path) -> list[Path]:
    return [p for p in folder.rglob("*") if p.is_file()]


@pytest.fixture(scope="module")
def site(tmp_path_factory) -> Iterator[Site]:
    """An S3 endpoint, and this process configured as the web machine."""
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    root = tmp_path_factory.mktemp("machines")
    found = Site(
        endpoint=f"http://{host}:{port}",
        web_media=root / "web-media",
        web_cache=root / "web-model-cache",
        worker_media=root / "worker-media",
        worker_cache=root / "worker-model-cache",
        logs=root / "logs",
    )
    for folder in (found.web_media, found.worker_media, found.logs):
        folder.mkdir()
    found.s3().create_bucket(Bucket=BUCKET)
    web_storage = s3_storage(bucket=BUCKET, endpoint_url=found.endpoint, region=REGION)
    with pytest.MonkeyPatch.context() as mp:
        for name, value in CREDENTIALS.items():
            mp.setenv(name, value)
        with override_settings(
            STORAGES={**settings.STORAGES, "default": web_storage},
            MEDIA_ROOT=found.web_media,
            MODEL_CACHE_DIR=found.web_cache,
        ):
            yield found
    server.stop()


@pytest.fixture(scope="module")
def worker(django_db_setup, django_db_blocker, site: Site):
    """The worker machine: the same bucket, a disk of its own."""
    no_models = site.logs / "no-ml-models"  # nothing built on this machine
    no_models.mkdir()
    with running_worker(
        site.worker_media,
        log_path=site.logs / "worker.log",
        AWS_STORAGE_BUCKET_NAME=BUCKET,
        AWS_S3_ENDPOINT_URL=site.endpoint,
        AWS_S3_REGION_NAME=REGION,
        MODEL_CACHE_DIR=str(site.worker_cache),
        ML_MODELS_DIR=str(no_models),
        **CREDENTIALS,
    ) as process:
        yield process


@pytest.mark.django_db(transaction=True)
def test_it_answers_an_upload_with_web_and_worker_sharing_only_s3(
    client, site: Site, worker, demos
):
    photo = SimpleUploadedFile("cat.jpg", example_bytes("cat.jpg"), content_type="image/jpeg")
    response = client.post("/demos/cats-vs-dogs/", {"image": photo}, HTTP_ACCEPT="application/json")
    assert response.status_code == 202
    created = response.json()

    payload = wait_until_finished(client, created["status_url"], worker)

    assert payload["status"] == "done", site.logs.joinpath("worker.log").read_text()
    assert payload["result"]["label"] == "cat"
    prediction = Prediction.objects.select_related("model_version").get(id=created["id"])
    # The photo the web stored and the heatmap the worker drew are both in the bucket...
    assert {prediction.image.name, prediction.heatmap.name} <= site.keys()
    # ...and the site serves them through its own views.
    page = client.get(f"/predictions/{prediction.id}/").content.decode()
    heatmap_url = f"/predictions/{prediction.id}/heatmap/"
    assert heatmap_url in page
    image = client.get(f"/predictions/{prediction.id}/image/")
    assert image.status_code == 200
    assert b"".join(image.streaming_content).startswith(b"\xff\xd8")  # JPEG
    heatmap = client.get(heatmap_url)
    assert heatmap.status_code == 200
    assert b"".join(heatmap.streaming_content).startswith(b"\x89PNG")
    # Nothing of it on either machine's disk.
    assert _files_under(site.web_media) == []
    assert _files_under(site.worker_media) == []
    # The worker had no model folder: it copied the artifact out of the bucket
    # into its own cache (the web process never loads a model).
    artifact = prediction.model_version.artifact.name
    assert artifact in site.keys()
    fetched = site.worker_cache / f"{prediction.model_version.sha256}.keras"
    assert fetched.is_file()
    assert not site.web_cache.exists() or _files_under(site.web_cache) == []
    # Private: no object in the bucket is granted to everyone (no public ACL).
    assert _public_objects() == []


@pytest.mark.django_db(transaction=True)
def test_it_fails_clearly_when_the_photo_is_missing_from_the_bucket(
    client, site: Site, worker, demos
):
    photo = SimpleUploadedFile("cat.jpg", example_bytes("cat.jpg"))
    with pytest.MonkeyPatch.context() as mp:
        # Hold the task back until the object is gone: send it afterwards.
        mp.setattr("classifiers.predictions.tasks.run_prediction.delay", lambda *a, **k: None)
        created = client.post(
            "/demos/cats-vs-dogs/", {"image": photo}, HTTP_ACCEPT="application/json"
        ).json()
    prediction = Prediction.objects.get(id=created["id"])
    site.s3().delete_object(Bucket=BUCKET, Key=prediction.image.name)
    from classifiers.predictions.tasks import run_prediction

    run_prediction.delay(created["id"])
    payload = wait_until_finished(client, created["status_url"], worker)

    assert payload["status"] == "failed"
    assert payload["error"] == (
        "This photo is missing from storage, so it could not be answered; please upload it again."
    )
    assert worker.poll() is None  # the worker lives on
    assert client.get(f"/predictions/{prediction.id}/image/").status_code == 404
    page = client.get(f"/predictions/{prediction.id}/").content.decode()
    assert "missing from storage" in page
