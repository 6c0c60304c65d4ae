"""Shared start-up for the benchmark scripts: Django settings and paths."""

import os
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "portfolio.settings")
os.environ.setdefault("DJANGO_LOCAL_DEV", "1")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import django  # noqa: E402

django.setup()

from django.conf import settings  # noqa: E402

SHARED_DATA = Path(settings.SHARED_DATA_DIR)
