"""Register the shipped demos and their built model versions (idempotent)."""

import importlib.util
from pathlib import Path

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError
from django.db import transaction

from classifiers.catalog import DEMOS, imagenet_labels, version_spec
from classifiers.inference.runtime import file_sha256
from classifiers.models import Demo, ModelVersion, ModelVersionStatus
from classifiers.versions.services import model_version_promote, store_artifact


class Command(BaseCommand):
    help = "Create or update the demos and their shipped model versions from the catalog."

    def handle(self, *args, **options):
        for position, entry in enumerate(DEMOS):
            demo, _ = Demo.objects.update_or_create(
                slug=entry["slug"],
                defaults={
                    "title": entry["title"],
                    "summary": entry["summary"],
                    "description": entry["description"],
                    "kind": entry["kind"],
                    "config": entry["config"],
                    "examples": entry["examples"],
                    "position": entry.get("position", position),
                },
            )
            for filename in entry["versions"]:
                self._register_version(demo, version_spec(filename), entry["versions"])
            demo.refresh_from_db()
            state = f"serving v{demo.promoted_version.number}" if demo.is_live else "coming"
            self.stdout.write(f"{demo.slug}: {state}")

    @transaction.atomic
    def _register_version(self, demo: Demo, spec: dict, spec_files: list[str]) -> None:
        path = _artifact_source(spec)
        if not path.exists():
            raise CommandError(f"{path} is missing: run `python manage.py build_models` first")
        sha256 = file_sha256(path)
        labels = imagenet_labels() if spec["labels"] == "imagenet" else spec["labels"]
        version = ModelVersion.objects.filter(demo=demo, number=spec["number"]).first()
        if version is None:
            version = ModelVersion(demo=demo, number=spec["number"], sha256=sha256)
            # Stored by content: demos sharing a network share one file, and a
            # re-run (or every test) finds it already there instead of copying.
            with path.open("rb") as f:
                version.artifact.name = store_artifact(f"model_versions/{sha256}{path.suffix}", f)
        elif version.sha256 != sha256:
            # A stored artifact never changes; a rebuilt one must be a new version.
            self.stderr.write(
                f"{demo.slug} v{version.number}: built artifact differs from the stored one; "
                "keeping the stored one"
            )
        version.name = spec["name"]
        version.labels = labels
        version.input_spec = spec["input_spec"]
        version.calibration = spec.get("calibration", {})
        version.metrics = spec.get("metrics", {})
        version.notes = spec.get("notes", "")
        version.status = ModelVersionStatus.READY
        version.save()
        # The spec marked default (chosen by bench/calibrate.py) is served on a
        # fresh install; after that only promote/rollback change what is served.
        is_default = spec.get("default") or not any(
            version_spec(f).get("default") for f in spec_files
        )
        if demo.promoted_version_id is None and is_default:
            model_version_promote(version=version, reason="shipped default at set-up")


def _artifact_source(spec: dict) -> Path:
    """Where a version's artifact is: built into ML_MODELS_DIR, or, for a
    ``package_file`` ("package/relative/path"), inside an installed package
    (dlib's face networks ship ready-made in face-recognition-models)."""
    if "package_file" not in spec:
        return Path(settings.ML_MODELS_DIR) / spec["artifact"]
    package, _, relative = spec["package_file"].partition("/")
    found = importlib.util.find_spec(package)  # locates it without running its __init__
    if found is None or not found.submodule_search_locations:
        raise CommandError(f"the {package} package is not installed: `make install`")
    return Path(next(iter(found.submodule_search_locations))) / relative
