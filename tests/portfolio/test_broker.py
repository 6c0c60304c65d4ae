"""The embedded broker of `make run`: a worker never takes a message half written.

kombu's filesystem transport lets a reader take a message file before it is
filled; decoding it fails and stops the whole worker (kombu issue #1551).
Real processes write while this one polls, as gunicorn and a worker do.
"""

from __future__ import annotations

import json
import multiprocessing
import time

from kombu import Connection, Exchange, Queue

import portfolio.celery  # noqa: F401  (makes filesystem:// the whole-message transport)

WRITERS, MESSAGES = 3, 500
QUEUE = Queue("q", Exchange("q"), routing_key="q")


def _options(folder) -> dict:
    return {
        "data_folder_in": str(folder),
        "data_folder_out": str(folder),
        "control_folder": str(folder / "control"),
    }


def _write(folder) -> None:
    with Connection("filesystem://", transport_options=_options(folder)) as connection:
        producer = connection.Producer()
        for _ in range(MESSAGES):
            producer.publish({"photo": "x" * 20_000}, exchange=QUEUE.exchange, routing_key="q")


def test_a_polling_worker_never_reads_a_message_half_written(tmp_path):
    with Connection("filesystem://", transport_options=_options(tmp_path)) as connection:
        assert type(connection.transport).__module__ == "portfolio.broker"
        channel = connection.channel()
        QUEUE(channel).declare()
        context = multiprocessing.get_context("fork")
        writers = [context.Process(target=_write, args=(tmp_path,)) for _ in range(WRITERS)]
        for writer in writers:
            writer.start()
        taken, unreadable = 0, 0
        deadline = time.monotonic() + 120  # a bound, not a timing check
        while taken + unreadable < WRITERS * MESSAGES and time.monotonic() < deadline:
            try:
                channel._get("q")  # what the worker's polling loop calls
                taken += 1
            except json.JSONDecodeError:
                unreadable += 1
            except Exception:  # queue.Empty: nothing yet
                pass
        for writer in writers:
            writer.join(timeout=60)

    assert (taken, unreadable) == (WRITERS * MESSAGES, 0)
