from datetime import timedelta

import pytest
from django.utils import timezone
from PIL import Image

from classifiers.inference.images import ImageRejected
from classifiers.models import Demo, Prediction, PredictionStatus
from classifiers.predictions import services as prediction_services
from classifiers.predictions import worker as prediction_worker
from tests.conftest import example_bytes, jpeg_bytes


@pytest.fixture
def cats_vs_dogs(demos):
    return demos["cats-vs-dogs"]


def test_it_stores_a_re_encoded_upload_and_queues_it_after_commit(
    cats_vs_dogs, alice, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        prediction = prediction_services.prediction_create(
            demo=cats_vs_dogs,
            data=example_bytes("cat.jpg"),
            filename="../../x/cat.jpg",
            owner=alice,
            visitor_id="v1",
        )
    assert len(callbacks) == 1
    assert prediction.status == PredictionStatus.QUEUED
    assert prediction.original_name == "cat.jpg"
    with prediction.image.open("rb") as f:
        assert Image.open(f).format == "JPEG"


@pytest.mark.parametrize(
    "data, message",
    [(b"", "empty"), (b"not an image", "not an image"), (jpeg_bytes()[:200], "damaged")],
)
def test_it_creates_nothing_for_a_bad_upload(cats_vs_dogs, data, message):
    with pytest.raises(ImageRejected, match=message):
        prediction_services.prediction_create(demo=cats_vs_dogs, data=data)
    assert not Prediction.objects.exists()


def test_it_refuses_uploads_to_a_demo_that_is_not_served(demos):
    Demo.objects.filter(slug="dog-breeds").update(promoted_version=None)
    with pytest.raises(prediction_services.DemoNotServed, match="coming soon"):
        prediction_services.prediction_create(
            demo=Demo.objects.get(slug="dog-breeds"), data=jpeg_bytes()
        )
    assert not Prediction.objects.exists()


def test_it_claims_a_prediction_once_and_pins_the_promoted_version(cats_vs_dogs):
    prediction = prediction_services.prediction_create(demo=cats_vs_dogs, data=jpeg_bytes())
    assert prediction_worker.prediction_claim(prediction_id=prediction.id) is True
    assert prediction_worker.prediction_claim(prediction_id=prediction.id) is False
    prediction.refresh_from_db()
    assert prediction.status == PredictionStatus.RUNNING
    assert prediction.attempts == 1
    assert prediction.model_version_id == cats_vs_dogs.promoted_version_id


def test_it_reclaims_a_prediction_whose_worker_died_long_ago(cats_vs_dogs):
    prediction = prediction_services.prediction_create(demo=cats_vs_dogs, data=jpeg_bytes())
    Prediction.objects.filter(id=prediction.id).update(
        status=PredictionStatus.RUNNING, started_at=timezone.now() - timedelta(hours=1)
    )
    assert prediction_worker.prediction_claim(prediction_id=prediction.id) is True
    prediction.refresh_from_db()
    assert prediction.attempts == 1


def test_it_never_reclaims_a_finished_prediction(cats_vs_dogs):
    prediction = prediction_services.prediction_create(demo=cats_vs_dogs, data=jpeg_bytes())
    Prediction.objects.filter(id=prediction.id).update(status=PredictionStatus.DONE)
    assert prediction_worker.prediction_claim(prediction_id=prediction.id) is False


def test_it_claims_nothing_for_an_unknown_id(db):
    import uuid

    assert prediction_worker.prediction_claim(prediction_id=uuid.uuid4()) is False


def test_running_a_prediction_stores_the_answer_and_the_version(cats_vs_dogs):
    prediction = prediction_services.prediction_create(
        demo=cats_vs_dogs, data=example_bytes("cat.jpg")
    )
    prediction_worker.prediction_run(prediction_id=prediction.id)
    prediction.refresh_from_db()
    assert prediction.status == PredictionStatus.DONE
    assert prediction.result["label"] == "cat"
    assert [item["label"] for item in prediction.result["top"]] == ["cat", "dog"]
    assert prediction.model_version == cats_vs_dogs.promoted_version
    assert prediction.answer.startswith("cat (")


def test_running_a_prediction_stores_an_honest_rejection(cats_vs_dogs):
    prediction = prediction_services.prediction_create(
        demo=cats_vs_dogs, data=example_bytes("fox-squirrel.jpg")
    )
    prediction_worker.prediction_run(prediction_id=prediction.id)
    prediction.refresh_from_db()
    assert prediction.status == PredictionStatus.REJECTED
    assert prediction.result["reason"] == "Neither a cat nor a dog."
    assert prediction.answer == "Neither a cat nor a dog."
    assert not prediction.heatmap  # nothing to explain without an answer


def test_a_failure_does_not_overwrite_a_finished_answer(cats_vs_dogs):
    prediction = prediction_services.prediction_create(demo=cats_vs_dogs, data=jpeg_bytes())
    Prediction.objects.filter(id=prediction.id).update(status=PredictionStatus.DONE)
    prediction_worker.prediction_fail(prediction_id=prediction.id, reason="late failure")
    prediction.refresh_from_db()
    assert prediction.status == PredictionStatus.DONE


def test_it_moves_a_browsers_anonymous_predictions_to_the_account(cats_vs_dogs, alice, bob):
    mine = prediction_services.prediction_create(
        demo=cats_vs_dogs, data=jpeg_bytes(), visitor_id="browser-a"
    )
    other = prediction_services.prediction_create(
        demo=cats_vs_dogs, data=jpeg_bytes(), visitor_id="browser-b"
    )
    owned = prediction_services.prediction_create(
        demo=cats_vs_dogs, data=jpeg_bytes(), owner=bob, visitor_id="browser-a"
    )
    assert prediction_services.predictions_adopt(user=alice, visitor_id="browser-a") == 1
    mine.refresh_from_db(), other.refresh_from_db(), owned.refresh_from_db()
    assert (mine.owner, other.owner, owned.owner) == (alice, None, bob)
    assert prediction_services.predictions_adopt(user=alice, visitor_id="") == 0


def test_warm_up_loads_each_promoted_model_once(demos):
    from classifiers.inference import runtime

    runtime.clear_cache()
    warmed = prediction_worker.models_warm_up()
    assert [v.demo.slug for v in warmed] == ["cats-vs-dogs", "dog-breeds", "celebrity-lookalike"]
    assert warmed == [demo.promoted_version for demo in demos.values()]
    assert list(runtime._models) == [(v.pk, v.sha256) for v in warmed]
    loaded = dict(runtime._models)
    prediction_worker.models_warm_up()
    assert all(runtime._models[key] is model for key, model in loaded.items())


def test_every_upload_path_obeys_the_queue_guard(cats_vs_dogs, alice, settings):
    """The guard lives in prediction_create, so a re-run cannot skip it."""
    done = prediction_services.prediction_create(demo=cats_vs_dogs, data=jpeg_bytes(), owner=alice)
    Prediction.objects.filter(pk=done.pk).update(status=PredictionStatus.DONE)
    settings.QUEUE_MAX_DEPTH = 0
    for upload in (
        lambda: prediction_services.prediction_create(demo=cats_vs_dogs, data=jpeg_bytes()),
        lambda: prediction_services.prediction_rerun(prediction=done, owner=alice),
    ):
        with pytest.raises(prediction_services.QueueFull, match="busy") as refused:
            upload()
        assert (refused.value.status, refused.value.retry_after) == (
            503,
            settings.QUEUE_RETRY_AFTER,
        )
    assert Prediction.objects.count() == 1
