from __future__ import annotations

import io
import os
import tempfile
from pathlib import Path

import pytest
from django.conf import settings
from django.core.management import call_command
from django.test import override_settings
from PIL import Image

os.environ.setdefault("DJANGO_LOCAL_DEV", "1")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

REPO = Path(__file__).resolve().parent.parent
EXAMPLES = REPO / "static" / "classifiers" / "examples"
SHARED_DATA = Path(os.environ.get("SHARED_DATA_DIR", REPO.parent / "shared" / "data"))
PETS = SHARED_DATA / "pets"

needs_pets = pytest.mark.skipif(
    not (PETS / "labels.csv").exists(),
    reason=f"real labelled photos not found at {PETS} (../shared/data is optional)",
)


@pytest.fixture(scope="session", autouse=True)
def _private_media_root():
    """One temporary media folder for the run, shared with the worker process."""
    with tempfile.TemporaryDirectory(prefix="portfolio-media-") as media:
        with override_settings(MEDIA_ROOT=media):
            yield Path(media)


@pytest.fixture(scope="session", autouse=True)
def _model_cache():
    """This run's copies of model artifacts (classifiers.serving), shared with
    its worker processes as a machine's are; gone with the run, so the
    models that tests build on the fly do not pile up in the system's temp."""
    with tempfile.TemporaryDirectory(prefix="portfolio-model-cache-") as cache:
        with override_settings(MODEL_CACHE_DIR=Path(cache)):
            yield Path(cache)


@pytest.fixture(autouse=True)
def _full_upload_allowance():
    """Upload counts (classifiers.api.throttling) live in the cache, which
    outlives a test: each test starts with a client's full allowance."""
    from django.core.cache import cache

    cache.clear()
    yield


@pytest.fixture
def alice(django_user_model):
    return django_user_model.objects.create_user("alice", password="a-long-passphrase-1")


@pytest.fixture
def bob(django_user_model):
    """The stranger: every view that shows user data is tried as him."""
    return django_user_model.objects.create_user("bob", password="a-long-passphrase-2")


@pytest.fixture
def staff(django_user_model):
    return django_user_model.objects.create_user(
        "staff", password="a-long-passphrase-3", is_staff=True, is_superuser=True
    )


@pytest.fixture
def demos(db):
    """The shipped demos and their built model versions, as `make run` sets them up."""
    if not (Path(settings.ML_MODELS_DIR) / "efficientnet_lite0.keras").exists():
        pytest.fail("model artifacts are missing: run `make models` (make test does)")
    call_command("setup_demos", stdout=io.StringIO())
    from classifiers.models import Demo

    return {demo.slug: demo for demo in Demo.objects.select_related("promoted_version")}


def jpeg_bytes(size=(64, 48), color=(200, 120, 40), **save_kwargs) -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", size, color).save(buffer, format="JPEG", **save_kwargs)
    return buffer.getvalue()


def example_bytes(name: str) -> bytes:
    return (EXAMPLES / name).read_bytes()


@pytest.fixture(scope="module")
def celery_worker(django_db_setup, django_db_blocker, _private_media_root: Path):
    """A real worker process, one per test module (tests/workers.py)."""
    from tests.workers import running_worker

    with running_worker(_private_media_root) as worker:
        yield worker
