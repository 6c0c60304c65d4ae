"""Telling a waiting request that an answer is stored: a long poll.

A client that asks for a prediction with ``?wait=S`` is held until its answer
is stored or S seconds pass, so it learns of the answer at once with one
request instead of polling. Under load the polls cost the web more CPU than
the model costs the worker (bench/throughput.py, issue 11), and on a quiet
site a poll interval is latency added to every answer.

The worker publishes one message per stored answer on a Redis channel named
after the prediction; a waiting request subscribes to that channel *before*
it reads the row again, so an answer stored in between is never missed.

Only with Redis (ANSWER_SIGNAL_URL, by default the broker's URL when it is
Redis): with the embedded defaults of `make run` there is no channel, and a
``wait`` is ignored (the answer says when to ask again, as before). Each web
process holds at most ANSWER_WAITERS requests this way, fewer than its
threads, so held requests never take the threads other visitors need; a
request beyond that is answered at once.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from functools import cache

import redis
from django.conf import settings

from classifiers import selectors

logger = logging.getLogger(__name__)

CHANNEL = "prediction-ready:{}"


@cache
def _redis() -> redis.Redis | None:
    url = settings.ANSWER_SIGNAL_URL
    if not url:
        return None
    # One connection pool per process; short timeouts: a slow Redis must
    # never hold an answer or a request for long.
    return redis.Redis.from_url(url, socket_timeout=5, socket_connect_timeout=2)


@cache
def _slots() -> threading.BoundedSemaphore:
    return threading.BoundedSemaphore(max(settings.ANSWER_WAITERS, 0) or 1)


def announce(prediction_id) -> None:
    """Wake whoever waits for this prediction (best effort: a waiter that
    misses it still gets the answer when its wait ends)."""
    client = _redis()
    if client is None:
        return
    try:
        client.publish(CHANNEL.format(prediction_id), b"1")
    except redis.RedisError as error:
        logger.warning("could not announce prediction %s: %s", prediction_id, error)


@contextmanager
def _slot() -> Iterator[bool]:
    slots = _slots()
    taken = slots.acquire(blocking=False)
    try:
        yield taken
    finally:
        if taken:
            slots.release()


def wait_until(prediction_id, *, seconds: float, finished: Callable[[], bool]) -> None:
    """Return once ``finished()`` is true, the answer is announced, or after
    ``seconds``; at once when there is no channel or no free slot."""
    client = _redis()
    if client is None or seconds <= 0:
        return
    with _slot() as taken:
        if not taken:
            return
        try:
            pubsub = client.pubsub(ignore_subscribe_messages=True)
            try:
                pubsub.subscribe(CHANNEL.format(prediction_id))
                # Subscribed first, read second: an answer stored in between
                # is seen here, one stored later is announced to us.
                deadline = time.monotonic() + seconds
                while not finished() and (left := deadline - time.monotonic()) > 0:
                    # None for the subscription's own confirmation (ignored)
                    # or at the timeout; the loop reads the row again either way.
                    if pubsub.get_message(timeout=left) is not None:
                        return
            finally:
                pubsub.close()
        except redis.RedisError as error:
            logger.warning("waiting for prediction %s failed: %s", prediction_id, error)


def hold(prediction, seconds: float) -> None:
    """Hold a status request for up to ``seconds`` (capped by
    ANSWER_WAIT_MAX_SECONDS) until ``prediction`` is answered, then refresh it."""
    seconds = min(seconds, settings.ANSWER_WAIT_MAX_SECONDS)
    if seconds <= 0 or prediction.is_finished:
        return
    wait_until(
        prediction.id,
        seconds=seconds,
        finished=lambda: selectors.prediction_is_finished(prediction_id=prediction.id),
    )
    # The answer's version and demo come with the row (one query, not three).
    prediction.refresh_from_db(from_queryset=selectors.prediction_with_relations())
