import logging
import os
from pathlib import Path

from celery import Celery, Task
from kombu.exceptions import OperationalError
from kombu.transport import TRANSPORT_ALIASES

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "portfolio.settings")

# filesystem:// (the embedded broker of `make run`) with messages that appear
# whole (portfolio/broker.py); every process that sends or takes work imports this.
TRANSPORT_ALIASES["filesystem"] = "portfolio.broker:Transport"

logger = logging.getLogger(__name__)

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


class Doorbell(Task):
    """A task whose message only rings for a row already committed.

    The row is the truth: when the broker cannot take the message (Redis
    restarting), the row stays queued and the sweep rings again, so the
    caller (an upload that is already stored) is not answered with a 500.
    """

    def apply_async(self, args=None, kwargs=None, **options):
        try:
            return super().apply_async(args, kwargs, **options)
        except OperationalError:
            logger.warning("broker unavailable: %s(%s) left to the sweep", self.name, args)
            return None


@app.task(name="portfolio.clear_expired_sessions", ignore_result=True)
def clear_expired_sessions() -> None:
    """Django keeps expired sessions until asked (`manage.py clearsessions`)."""
    from django.core.management import call_command

    call_command("clearsessions")
