import io
import json

import pytest
from django.core.management import CommandError, call_command

from classifiers.catalog import DEMOS, version_spec
from classifiers.models import Demo, ModelVersion, Promotion
from classifiers.versions import services as version_services
from tests.conftest import EXAMPLES


def _specs(slug: str) -> list[dict]:
    (entry,) = [entry for entry in DEMOS if entry["slug"] == slug]
    return [version_spec(filename) for filename in entry["versions"]]


def _spec_default(slug: str) -> int:
    """The version the demo's spec files mark "default" (a lone spec needs no mark)."""
    specs = _specs(slug)
    defaults = [spec["number"] for spec in specs if spec.get("default")]
    return defaults[0] if defaults else specs[0]["number"]


def _predict_json(*args) -> list[dict]:
    out = io.StringIO()
    call_command("predict", *args, "--json", stdout=out)
    return [json.loads(line) for line in out.getvalue().splitlines()]


def test_setup_demos_registers_three_demos_and_serves_each_specs_default(demos):
    assert set(demos) == {"cats-vs-dogs", "dog-breeds", "celebrity-lookalike"}
    for slug, demo in demos.items():
        assert demo.is_live, slug
        assert demo.promoted_version.number == _spec_default(slug), slug
        assert demo.versions.count() == len(_specs(slug)), slug
    version = demos["cats-vs-dogs"].promoted_version
    assert (version.status, len(version.labels)) == ("ready", 1000)
    assert len(version.sha256) == 64
    (spec,) = [spec for spec in _specs("cats-vs-dogs") if spec["number"] == version.number]
    assert version.calibration == spec["calibration"]  # what answers and rejections use


def test_setup_demos_is_idempotent(demos):
    promotions = Promotion.objects.count()
    call_command("setup_demos", stdout=io.StringIO())
    assert Demo.objects.count() == 3
    assert ModelVersion.objects.count() == sum(len(entry["versions"]) for entry in DEMOS)
    assert Promotion.objects.count() == promotions


def test_setup_demos_keeps_a_version_an_admin_promoted(demos):
    demo = demos["cats-vs-dogs"]
    other = demo.versions.exclude(pk=demo.promoted_version_id).order_by("number").first()
    version_services.model_version_promote(version=other, reason="test")
    call_command("setup_demos", stdout=io.StringIO())
    demo.refresh_from_db()
    assert demo.promoted_version == other


def test_setup_demos_stores_a_shared_network_once_named_by_its_content(demos):
    cats_v1 = demos["cats-vs-dogs"].versions.get(number=1)
    dogs_v1 = demos["dog-breeds"].versions.get(number=1)
    assert cats_v1.sha256 == dogs_v1.sha256  # both are EfficientNet-Lite0
    assert cats_v1.artifact.name == dogs_v1.artifact.name
    assert cats_v1.artifact.name == f"model_versions/{cats_v1.sha256}.keras"
    assert cats_v1.artifact.storage.exists(cats_v1.artifact.name)


def test_predict_prints_one_json_object_per_image(demos, tmp_path):
    text_file = tmp_path / "notes.jpg"
    text_file.write_text("not a photo")
    cat, dog, bad = _predict_json(
        "cats-vs-dogs",
        str(EXAMPLES / "cat.jpg"),
        str(EXAMPLES / "golden-retriever.jpg"),
        str(text_file),
    )
    served = demos["cats-vs-dogs"].promoted_version.number
    assert set(cat) == {"path", "status", "label", "score", "top", "reason", "model_version"}
    assert (cat["status"], cat["label"], cat["model_version"]) == ("done", "cat", served)
    assert dog["label"] == "dog" and 0.5 < dog["score"] <= 1.0
    assert [t["label"] for t in dog["top"]] == ["dog", "cat"]
    assert sum(t["score"] for t in dog["top"]) == pytest.approx(1.0)
    assert (bad["status"], bad["label"]) == ("failed", None)
    assert "not an image" in bad["reason"]


def test_predict_says_neither_for_an_animal_that_is_no_cat_or_dog(demos):
    (squirrel,) = _predict_json("cats-vs-dogs", str(EXAMPLES / "fox-squirrel.jpg"))
    assert (squirrel["status"], squirrel["label"], squirrel["score"]) == ("rejected", None, None)
    assert squirrel["reason"] == "Neither a cat nor a dog."


def test_predict_names_the_breed_of_a_dog(demos):
    (dalmatian,) = _predict_json("dog-breeds", str(EXAMPLES / "dalmatian.jpg"))
    assert (dalmatian["status"], dalmatian["label"]) == ("done", "dalmatian")
    assert dalmatian["top"][0]["label"] == "dalmatian"
    assert len(dalmatian["top"]) == 3
    assert dalmatian["model_version"] == demos["dog-breeds"].promoted_version.number


def test_predict_says_a_cat_is_not_a_dog(demos):
    (cat,) = _predict_json("dog-breeds", str(EXAMPLES / "cat.jpg"))
    assert (cat["status"], cat["label"]) == ("rejected", None)
    assert cat["reason"] == "This is a cat, not a dog."


def test_predict_refuses_an_unknown_demo(db):
    with pytest.raises(CommandError, match="no demo 'nope'"):
        call_command("predict", "nope", "x.jpg", stdout=io.StringIO())
