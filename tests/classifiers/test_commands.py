import io
import json

import pytest
from django.core.management import CommandError, call_command

from classifiers.models import Demo, ModelVersion
from tests.conftest import EXAMPLES


def test_setup_demos_registers_three_demos_and_serves_cats_vs_dogs(demos):
    assert set(demos) == {"cats-vs-dogs", "dog-breeds", "celebrity-lookalike"}
    version = demos["cats-vs-dogs"].promoted_version
    assert (version.number, version.status, len(version.labels)) == (1, "ready", 1000)
    assert len(version.sha256) == 64
    assert demos["dog-breeds"].promoted_version is None


def test_setup_demos_is_idempotent(demos):
    call_command("setup_demos", stdout=io.StringIO())
    assert Demo.objects.count() == 3
    assert ModelVersion.objects.count() == 1


def test_predict_prints_one_json_object_per_image(demos, tmp_path):
    text_file = tmp_path / "notes.jpg"
    text_file.write_text("not a photo")
    out = io.StringIO()
    call_command(
        "predict",
        "cats-vs-dogs",
        str(EXAMPLES / "cat.jpg"),
        str(EXAMPLES / "golden-retriever.jpg"),
        str(text_file),
        "--json",
        stdout=out,
    )
    cat, dog, bad = (json.loads(line) for line in out.getvalue().splitlines())
    assert set(cat) == {"path", "status", "label", "score", "top", "reason", "model_version"}
    assert (cat["status"], cat["label"], cat["model_version"]) == ("done", "cat", 1)
    assert dog["label"] == "dog" and 0.5 < dog["score"] <= 1.0
    assert [t["label"] for t in dog["top"]] == ["dog", "cat"]
    assert (bad["status"], bad["label"]) == ("failed", None)
    assert "not an image" in bad["reason"]


def test_predict_refuses_an_unknown_demo(db):
    with pytest.raises(CommandError, match="no demo 'nope'"):
        call_command("predict", "nope", "x.jpg", stdout=io.StringIO())
