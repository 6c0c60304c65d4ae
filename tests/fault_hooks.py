"""Faults on demand inside a real worker, for the fault tests (never in production).

A test worker loads this module with ``celery worker --include tests.fault_hooks``;
it wraps the forward pass of ``classifiers.predictions.worker`` so that "in
the middle of a prediction" is a moment a test can wait for. Set in the
worker's environment:

- ``FAULT_HOLD_DIR``: on entering the pipeline call, write ``entered-<pid>``
  there, then wait while a file ``hold`` exists in it (at most
  HOLD_LIMIT_S). The test kills the process named by the marker, or removes
  ``hold`` to let it go on.
- ``FAULT_KILL_WIDTH``: a photo of exactly this width kills its process
  (SIGKILL, as the kernel's out-of-memory killer does) every time.
"""

from __future__ import annotations

import os
import signal
import time
from pathlib import Path

from classifiers.predictions import worker

HOLD_LIMIT_S = 120

_infer = worker.infer


def _faulty_infer(pipeline, model, images):
    kill_width = os.environ.get("FAULT_KILL_WIDTH")
    if kill_width and any(image.width == int(kill_width) for image in images):
        os.kill(os.getpid(), signal.SIGKILL)
    hold_dir = os.environ.get("FAULT_HOLD_DIR")
    if hold_dir:
        folder = Path(hold_dir)
        (folder / f"entered-{os.getpid()}").write_text(str(time.time()))
        deadline = time.monotonic() + HOLD_LIMIT_S
        while (folder / "hold").exists() and time.monotonic() < deadline:
            time.sleep(0.05)
    return _infer(pipeline, model, images)


worker.infer = _faulty_infer
