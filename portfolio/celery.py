import logging
import os
from pathlib import Path

from celery import Celery, Task
from celery.signals import setup_logging, task_postrun, task_prerun
from kombu.exceptions import OperationalError
from kombu.transport import TRANSPORT_ALIASES

from portfolio.logs import reset_prediction_id, set_prediction_id

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


@setup_logging.connect
def _log_as_the_site_does(**kwargs) -> None:
    """Workers and beat log through settings.LOGGING (JSON lines in production,
    portfolio/logs.py), not Celery's own text handlers: one format for every
    process of the site. Connecting this signal is what keeps Celery's hands off."""
    from django.conf import settings

    from portfolio.logs import configure

    configure(settings.LOGGING)


# The tasks whose first argument is a prediction's id: every line logged while
# one runs carries that id (portfolio/logs.py), Celery's own lines included.
PREDICTION_TASKS = frozenset({"classifiers.run_prediction", "classifiers.rescue_prediction"})
_log_context_tokens: dict[str, object] = {}


@task_prerun.connect
def _enter_prediction_log_context(task_id=None, task=None, args=None, **kwargs) -> None:
    if task is not None and task.name in PREDICTION_TASKS and args:
        _log_context_tokens[task_id] = set_prediction_id(args[0])


@task_postrun.connect
def _leave_prediction_log_context(task_id=None, **kwargs) -> None:
    token = _log_context_tokens.pop(task_id, None)
    if token is not None:
        reset_prediction_id(token)


@task_postrun.connect
def _stamp_worker_seen(**kwargs) -> None:
    """Readiness asks whether a worker finished a task lately (portfolio/health.py)."""
    from portfolio.health import worker_seen

    worker_seen()


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
