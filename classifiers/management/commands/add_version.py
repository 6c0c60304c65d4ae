"""Add a model version from the command line, as a training pipeline would.

    python manage.py add_version SLUG ARTIFACT --labels FILE [--spec FILE] [--promote]

Does what the staff upload does, waits for a worker to validate the version
(or validates in this process with --inline), optionally promotes it, and
prints as its last line ``status=<ready|invalid> version=<n> reason=<text>``,
exiting 1 when the version is invalid.
"""

import json
import time
from pathlib import Path

from django.core.files import File
from django.core.management.base import BaseCommand, CommandError

from classifiers.inference.refusals import Refused
from classifiers.models import Demo, ModelVersion, ModelVersionStatus
from classifiers.versions import services, worker


class Command(BaseCommand):
    help = "Upload a model version, wait for its validation, optionally promote it."

    def add_arguments(self, parser):
        parser.add_argument("slug")
        parser.add_argument("artifact")
        parser.add_argument("--labels", required=True, help="JSON list, one label per output")
        parser.add_argument(
            "--spec",
            help="JSON input spec (default: the served version's, without its size, which "
            "is read from the model)",
        )
        parser.add_argument("--name", default="")
        parser.add_argument("--notes", default="")
        parser.add_argument("--promote", action="store_true", help="serve it if it is ready")
        parser.add_argument(
            "--inline", action="store_true", help="validate in this process, not in a worker"
        )
        parser.add_argument("--timeout", type=int, default=1800, help="seconds to wait")

    def handle(self, *args, **o):
        demo = Demo.objects.select_related("promoted_version").filter(slug=o["slug"]).first()
        if demo is None:
            raise CommandError(f"no demo {o['slug']!r}")
        try:
            labels = services.labels_from_json(Path(o["labels"]).read_bytes())
            if o["spec"]:
                spec = json.loads(Path(o["spec"]).read_text())
            elif demo.promoted_version:
                # The new network may take another size: validation reads it from the model.
                spec = {k: v for k, v in demo.promoted_version.input_spec.items() if k != "size"}
            else:
                raise CommandError("--spec is required: the demo serves no version to copy from")
            with Path(o["artifact"]).open("rb") as f:
                version = services.model_version_upload(
                    demo=demo,
                    artifact=File(f, name=Path(o["artifact"]).name),
                    labels=labels,
                    input_spec=spec,
                    name=o["name"] or Path(o["artifact"]).stem,
                    notes=o["notes"],
                )
        except (OSError, ValueError, Refused) as exc:  # ValueError: a bad --spec JSON
            raise CommandError(str(exc)) from exc
        self.stdout.write(f"uploaded {demo.slug} v{version.number} sha256={version.sha256}")
        if o["inline"]:
            worker.model_version_validate(version_id=version.pk)
        version = self._wait(version, o["timeout"])
        if version.status == ModelVersionStatus.READY and o["promote"]:
            promotion = services.model_version_promote(
                version=version, reason="add_version --promote"
            )
            queued = "promotion queued until the gallery is re-embedded"
            self.stdout.write("promoted" if promotion else queued)
        reason = " ".join(version.status_reason.split())
        self.stdout.write(f"status={version.status} version={version.number} reason={reason}")
        if version.status != ModelVersionStatus.READY:
            raise SystemExit(1)

    def _wait(self, version: ModelVersion, timeout: int) -> ModelVersion:
        deadline = time.monotonic() + timeout
        while True:
            version.refresh_from_db()
            if version.status in (ModelVersionStatus.READY, ModelVersionStatus.INVALID):
                return version
            if time.monotonic() > deadline:
                raise CommandError(
                    f"v{version.number} still {version.status} after {timeout}s: "
                    "is a worker running? (or use --inline)"
                )
            time.sleep(1)
