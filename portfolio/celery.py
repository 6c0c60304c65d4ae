import os
from pathlib import Path

from celery import Celery

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "portfolio.settings")

app = Celery("portfolio")
app.config_from_object("django.conf:settings", namespace="CELERY")
# One tasks module per domain (classifiers/<domain>/tasks.py).
app.autodiscover_tasks(["classifiers.predictions", "classifiers.versions", "classifiers.gallery"])


@app.on_after_configure.connect
def _create_filesystem_broker_folders(sender: Celery, **kwargs) -> None:
    # The embedded broker of local runs is a set of folders that kombu expects
    # to exist already, in whichever process (web or worker) touches it first.
    if str(sender.conf.broker_url).startswith("filesystem"):
        for folder in (sender.conf.broker_transport_options or {}).values():
            if isinstance(folder, str):
                Path(folder).mkdir(parents=True, exist_ok=True)
