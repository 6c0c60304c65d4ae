"""Run a demo's pipeline on local files, exactly as the worker does."""

import json
from pathlib import Path

from django.core.management.base import BaseCommand, CommandError

from classifiers.inference.images import read_stored
from classifiers.inference.refusals import Refused
from classifiers.models import Demo
from classifiers.serving import run_pipeline
from classifiers.uploads import decode_photo


class Command(BaseCommand):
    help = "Predict SLUG IMAGE...: one JSON object per image with --json."

    def add_arguments(self, parser):
        parser.add_argument("slug")
        parser.add_argument("images", nargs="+")
        parser.add_argument("--json", action="store_true", help="one JSON object per line")
        parser.add_argument(
            "--model-version", type=int, help="version number (default: the promoted one)"
        )

    def handle(self, *args, slug, images, json, model_version, **options):
        demo = Demo.objects.select_related("promoted_version").filter(slug=slug).first()
        if demo is None:
            raise CommandError(f"no demo {slug!r}; run `python manage.py setup_demos`")
        number = model_version
        model_version = (
            demo.versions.filter(number=number).first() if number else demo.promoted_version
        )
        if model_version is None:
            raise CommandError(f"{slug} has no such model version")
        for path in images:
            record = {"path": path, "model_version": model_version.number}
            try:
                data = Path(path).read_bytes()
                # The stored form, as a worker reads an upload: the same answer.
                stored = read_stored(decode_photo(data).jpeg)
                outcome = run_pipeline(demo, model_version, stored)
            except OSError as exc:
                record.update(status="failed", label=None, score=None, top=[], reason=exc.strerror)
            except Refused as exc:
                record.update(status="failed", label=None, score=None, top=[], reason=exc.message)
            else:
                record.update(
                    status=outcome.status,
                    label=outcome.label,
                    score=outcome.score,
                    top=outcome.top,
                    reason=outcome.reason,
                )
            self.stdout.write(_json_line(record) if json else _human_line(record))


def _json_line(record: dict) -> str:
    return json.dumps(record)


def _human_line(record: dict) -> str:
    if record["status"] == "failed":
        return f"{record['path']}: failed: {record['reason']}"
    answer = record["label"] or record["reason"]
    score = f" {record['score']:.1%}" if record["score"] is not None else ""
    return f"{record['path']}: {record['status']} {answer}{score} (v{record['model_version']})"
