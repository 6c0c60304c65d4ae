"""Fixtures of the model-version tests: a cats-vs-dogs candidate and real uploads."""

import pytest

from classifiers.models import ModelVersion, ModelVersionStatus
from classifiers.predictions import services as prediction_services
from classifiers.predictions import worker as prediction_worker
from tests.conftest import example_bytes


@pytest.fixture
def demo(demos):
    return demos["cats-vs-dogs"]


@pytest.fixture
def candidate(demo):
    """v7 (after the six shipped): v1's network with a threshold above any evidence,
    so it refuses every photo."""
    v1 = demo.versions.get(number=1)
    fields = {f.name: getattr(v1, f.name) for f in ModelVersion._meta.fields if f.name != "id"}
    fields.update(
        number=7,
        name="Lite0, too cautious",
        status=ModelVersionStatus.READY,
        calibration={**v1.calibration, "threshold": 1.01},
    )
    return ModelVersion.objects.create(**fields)


@pytest.fixture
def uploads(demo, alice, bob):
    """Two real uploads, answered by the served v3 (the worker runs in-process)."""
    made = []
    for owner, name in ((alice, "cat.jpg"), (bob, "golden-retriever.jpg")):
        prediction = prediction_services.prediction_create(
            demo=demo, data=example_bytes(name), filename=name, owner=owner
        )
        prediction_worker.prediction_run(prediction_id=prediction.id)
        prediction.refresh_from_db()
        assert prediction.status == "done", prediction.error
        made.append(prediction)
    return made
