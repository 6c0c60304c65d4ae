"""Where stored files live: MEDIA_ROOT by default, a private S3 bucket one
setting away, and no web or worker code that reads them by a local path."""

import os
import re
import subprocess
import sys

from tests.conftest import REPO


def _env(**env) -> dict[str, str]:
    read = ("DJANGO_", "DATABASE", "CELERY_", "CACHE_URL", "AWS_", "MODEL_CACHE_DIR")
    clean = {k: v for k, v in os.environ.items() if not k.startswith(read)}
    return {**clean, "DJANGO_LOCAL_DEV": "1", **env}


def _default_storage(**env) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-c", "import portfolio.settings as s; print(s.STORAGES['default'])"],
        cwd=REPO,
        env=_env(**env),
        capture_output=True,
        text=True,
        timeout=120,
    )


def _storage(**env) -> dict:
    result = _default_storage(**env)
    assert result.returncode == 0, result.stderr
    return eval(result.stdout)  # a dict literal printed by the settings above


def test_it_keeps_files_under_the_media_root_when_nothing_is_set():
    assert _storage() == {"BACKEND": "django.core.files.storage.FileSystemStorage"}


def test_one_setting_moves_every_stored_file_to_a_private_s3_bucket():
    storage = _storage(AWS_STORAGE_BUCKET_NAME="site-media")
    assert storage["BACKEND"] == "storages.backends.s3.S3Storage"
    options = storage["OPTIONS"]
    assert options["bucket_name"] == "site-media"
    assert options["default_acl"] is None  # never public-read: the bucket's own privacy
    assert options["querystring_auth"] is True
    assert options["file_overwrite"] is False  # a taken name never loses its file
    assert "addressing_style" not in options  # AWS itself: boto3 chooses


def test_it_addresses_a_self_hosted_endpoint_by_path():
    options = _storage(
        AWS_STORAGE_BUCKET_NAME="media",
        AWS_S3_ENDPOINT_URL="http://minio:9000",
        AWS_S3_REGION_NAME="eu-west-1",
        AWS_LOCATION="/site/",
    )["OPTIONS"]
    assert options["endpoint_url"] == "http://minio:9000"
    assert options["region_name"] == "eu-west-1"
    assert options["location"] == "site"
    assert options["addressing_style"] == "path"


def test_it_refuses_s3_settings_without_a_bucket_rather_than_using_the_local_disk():
    result = _default_storage(AWS_S3_ENDPOINT_URL="http://minio:9000")
    assert result.returncode != 0
    assert "AWS_STORAGE_BUCKET_NAME is not" in result.stderr


def test_it_refuses_an_unknown_addressing_style():
    result = _default_storage(AWS_STORAGE_BUCKET_NAME="media", AWS_S3_ADDRESSING_STYLE="dns")
    assert result.returncode != 0
    assert "AWS_S3_ADDRESSING_STYLE must be auto, path or virtual" in result.stderr


# Web and worker code reach stored files through the storage API only. The
# set-up commands may read their inputs (built models, shared data) from
# disk, and the runtime reads installed packages; neither touches MEDIA_ROOT.
LOCAL_MEDIA = re.compile(r"MEDIA_ROOT|\.path\(|storage\.path\b")
ALLOWED = ("portfolio/settings.py", "portfolio/storage.py")  # where storage is configured


def test_no_web_or_worker_code_reads_a_stored_file_by_its_local_path():
    found = []
    for folder in ("classifiers", "portfolio"):
        for path in sorted((REPO / folder).rglob("*.py")):
            relative = path.relative_to(REPO).as_posix()
            if "/migrations/" in relative or relative in ALLOWED:
                continue
            for number, line in enumerate(path.read_text().splitlines(), 1):
                if LOCAL_MEDIA.search(line):
                    found.append(f"{relative}:{number}: {line.strip()}")
    assert found == []
