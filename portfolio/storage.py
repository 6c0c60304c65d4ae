"""Where uploads, heatmaps, model artifacts, evaluation sets and gallery photos
are kept: the ``default`` entry of ``STORAGES``.

Local runs keep them under MEDIA_ROOT (FileSystemStorage). Web and workers on
separate machines share an S3-compatible bucket instead (django-storages);
nothing in the site reads these files but through the storage API, so the
two are interchangeable. Settings and tests build the S3 entry here, so a
test's storage is the one production gets.
"""

from __future__ import annotations

# Larger downloads spool to a temporary file instead of memory (a model
# artifact is 20-300 MB; a photo is well under this).
S3_MAX_MEMORY_BYTES = 16 * 1024 * 1024


def s3_storage(
    *,
    bucket: str,
    endpoint_url: str = "",
    region: str = "",
    location: str = "",
    addressing_style: str = "",
) -> dict:
    """A ``STORAGES`` entry for a private bucket. Credentials come from the
    environment (AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY, or whatever
    else boto3 finds: an instance role, a profile), never from the code."""
    options: dict = {
        "bucket_name": bucket,
        # No ACL header: objects are as private as the bucket (the owner only;
        # buckets with ACLs disabled would refuse a header anyway). Photos
        # reach people through the site's own views, which check who asks.
        "default_acl": None,
        "querystring_auth": True,  # should a URL ever be made, it is signed...
        "querystring_expire": 300,  # ...and short-lived
        # Like FileSystemStorage: a name already taken gets a suffix, never
        # overwrites another row's file.
        "file_overwrite": False,
        "max_memory_size": S3_MAX_MEMORY_BYTES,
        "location": location.strip("/"),
    }
    if endpoint_url:
        options["endpoint_url"] = endpoint_url
    if region:
        options["region_name"] = region
    # Self-hosted S3 (MinIO and the like) has no per-bucket host names:
    # address buckets in the path unless told otherwise.
    style = addressing_style or ("path" if endpoint_url else "")
    if style:
        options["addressing_style"] = style
    return {"BACKEND": "storages.backends.s3.S3Storage", "OPTIONS": options}


FILESYSTEM_STORAGE = {"BACKEND": "django.core.files.storage.FileSystemStorage"}
