"""Schemathesis sends requests generated from /api/schema/ to the site's WSGI app.

Every operation, with data that fits the schema and data that does not, as an
anonymous client and as a token user: no answer may be a 5xx, and every answer
must match what the schema documents (status, content type, headers, body).

The test is not transactional (the usual `db`): uploads it makes are written
inside the test's transaction, which is rolled back, so their on_commit
enqueue never runs and nothing reaches a broker; the test checks that too.
"""

from __future__ import annotations

from collections import Counter

import pytest
import schemathesis
from django.core.signals import request_finished, request_started
from django.core.wsgi import get_wsgi_application
from django.db import close_old_connections, connection
from django.test import override_settings
from hypothesis import HealthCheck, Phase, given
from hypothesis import settings as hypothesis_settings
from hypothesis import strategies as st
from hypothesis.errors import Unsatisfiable
from rest_framework.authtoken.models import Token
from schemathesis.checks import positive_data_acceptance

from classifiers.predictions import services as prediction_services
from classifiers.predictions import worker as prediction_worker
from tests.conftest import example_bytes, jpeg_bytes

# Per operation, generation mode and identity: up to 40 requests per operation.
MAX_EXAMPLES = 10
MODES = (schemathesis.GenerationMode.POSITIVE, schemathesis.GenerationMode.NEGATIVE)
# All of schemathesis's default checks but one: "a request that fits the schema
# must be accepted" cannot hold for uploads, whose bytes and demo slug the
# schema describes only as a file and a string (a real demo and a real photo
# are checked by the server, and refused with a documented 400).


@pytest.fixture
def wsgi_app():
    """The real WSGI app, called in this thread on this test's connection.

    Django's handler closes "old" connections at each request's start and end,
    which would end the test's transaction; its test client turns that off
    the same way.
    """
    request_started.disconnect(close_old_connections)
    request_finished.disconnect(close_old_connections)
    try:
        yield get_wsgi_application()
    finally:
        request_started.connect(close_old_connections)
        request_finished.connect(close_old_connections)


@pytest.fixture
def no_broker(monkeypatch):
    from classifiers.predictions import tasks

    sent = []
    monkeypatch.setattr(tasks.run_prediction, "delay", lambda *args: sent.append(args))
    return sent


def _fuzz(strategy, *, positive: bool, headers: dict, statuses: Counter) -> int:
    """Send up to MAX_EXAMPLES generated requests; return how many were sent."""
    sent = 0

    @given(case=strategy)
    @hypothesis_settings(
        max_examples=MAX_EXAMPLES,
        deadline=None,
        derandomize=True,  # the same requests on every run
        database=None,
        phases=[Phase.explicit, Phase.generate],
        suppress_health_check=list(HealthCheck),
    )
    def run(case):
        nonlocal sent
        sent += 1
        response = case.call_and_validate(
            headers=headers, excluded_checks=[positive_data_acceptance]
        )
        statuses[response.status_code] += 1

    try:
        run()
    except Unsatisfiable:
        # Nothing to break: GET demos/ takes no parameters (and no body).
        assert not positive
    return sent


@pytest.mark.django_db
def test_it_answers_generated_requests_as_its_schema_says(demos, alice, wsgi_app, no_broker):
    key = Token.objects.create(user=alice).key
    done = prediction_services.prediction_create(
        demo=demos["cats-vs-dogs"], data=example_bytes("cat.jpg"), owner=alice
    )
    prediction_worker.prediction_claim(prediction_id=done.id)
    done.refresh_from_db()
    prediction_worker.prediction_finish(
        prediction=done,
        outcome={"status": "done", "label": "cat", "score": 0.9, "top": [], "details": {}},
    )
    queued = prediction_services.prediction_create(
        demo=demos["dog-breeds"], data=jpeg_bytes(), owner=alice
    )
    known_ids = [str(done.id), str(queued.id)]

    schema = schemathesis.openapi.from_wsgi("/api/schema/?format=json", wsgi_app)
    # Deletions last, so the other operations still find the known predictions.
    operations = sorted(
        (result.ok() for result in schema.get_all_operations()),
        key=lambda operation: operation.method.upper() == "DELETE",
    )
    examples: dict[str, int] = {}
    statuses: Counter = Counter()
    plenty = override_settings(
        UPLOAD_ANON_RATE="100000/hour", UPLOAD_USER_RATE="100000/hour", QUEUE_MAX_PER_CLIENT=100000
    )

    with plenty:
        for operation in operations:
            for mode in MODES:
                # Hypothesis favours the first strategies of one_of: real
                # demos, photos and ids first, so the 2xx answers are checked too.
                strategies = []
                uploads = "{prediction_id}" not in operation.path  # POST predictions/
                if operation.method.upper() == "POST" and uploads and mode.is_positive:
                    upload = {"demo": "cats-vs-dogs", "image": jpeg_bytes()}
                    strategies.append(operation.as_strategy(generation_mode=mode, body=upload))
                if "{prediction_id}" in operation.path:
                    strategies += [
                        operation.as_strategy(
                            generation_mode=mode, path_parameters={"prediction_id": known}
                        )
                        for known in known_ids
                    ]
                strategies.append(operation.as_strategy(generation_mode=mode))
                for headers in ({}, {"Authorization": f"Token {key}"}):
                    count = _fuzz(
                        st.one_of(strategies),
                        positive=mode.is_positive,
                        headers=headers,
                        statuses=statuses,
                    )
                    examples[operation.label] = examples.get(operation.label, 0) + count

    print(f"\nschemathesis: {len(operations)} operations, {sum(examples.values())} requests")
    for label, count in sorted(examples.items()):
        print(f"  {label}: {count}")
    print(f"  statuses: {dict(sorted(statuses.items()))}")
    # 7, the staff's queue, and a prediction's share: GET, POST, DELETE
    assert len(operations) == 11
    assert set(examples) == {operation.label for operation in operations}
    assert statuses[200] > 0 and statuses[204] > 0
    assert statuses[202] > 0  # uploads were accepted...
    assert no_broker == []  # ...and none was sent to a worker
    assert connection.run_on_commit  # their enqueue waits for a commit that never comes
