# Import the Celery app so @shared_task binds to it whenever Django starts.
from portfolio.celery import app as celery_app

__all__ = ("celery_app",)
