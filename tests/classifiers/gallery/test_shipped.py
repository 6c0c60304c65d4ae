"""The gallery of public figures that ships with the site (classifiers/gallery/data/lfw)."""

import io
import json
import shutil
import zipfile

import pytest
from django.core.management import CommandError, call_command
from PIL import Image

from classifiers.gallery import services as gallery_services
from classifiers.gallery import shipped
from classifiers.gallery.selectors import clear_gallery_cache
from classifiers.inference.refusals import Refused
from classifiers.models import FaceEmbedding, Person, PersonPhoto
from classifiers.serving import run_pipeline
from tests.conftest import EXAMPLES


@pytest.fixture
def lookalike(demos):
    clear_gallery_cache()
    yield demos["celebrity-lookalike"]
    clear_gallery_cache()


def _setup_gallery(**options) -> str:
    out = io.StringIO()
    call_command(
        "setup_gallery", "/nonexistent-packages", stdout=out, stderr=io.StringIO(), **options
    )
    return out.getvalue()


def test_it_ships_thousands_of_public_figures_in_a_reasonable_size():
    gallery = shipped.read()
    assert gallery is not None, "classifiers/gallery/data/lfw is missing: run build_gallery"
    assert gallery.people > 4000
    assert len(gallery.photos) == gallery.embeddings().shape[0] > 6000
    size = sum(p.stat().st_size for p in shipped.FOLDER.iterdir())
    assert size < 40 * 1024 * 1024
    assert "Labeled Faces in the Wild" in gallery.credit


def test_a_fresh_set_up_knows_them_all_and_finds_a_face_by_its_own_photo(lookalike, settings):
    settings.SHARED_DATA_DIR = "/nonexistent"  # nothing of ../shared is needed
    gallery = shipped.read()
    out = _setup_gallery()
    assert f"loaded {len(gallery.photos)} photos of {gallery.people} public figures" in out
    version = lookalike.promoted_version
    assert Person.objects.count() == gallery.people
    assert FaceEmbedding.objects.filter(model_version=version).count() == len(gallery.photos)
    assert _setup_gallery().count("loaded") == 0  # set-up runs it every time: once is enough

    # A person with several photos, found again by one of them.
    counts = {}
    for photo in gallery.photos:
        counts[photo.person] = counts.get(photo.person, 0) + 1
    person = next(p.person for p in gallery.photos if counts[p.person] >= 3)
    entry = next(p.entry for p in gallery.photos if p.person == person)
    with zipfile.ZipFile(shipped.FOLDER / "faces.zip") as zf:
        image = Image.open(io.BytesIO(zf.read(entry))).convert("RGB")
    outcome = run_pipeline(lookalike, version, image)
    assert outcome.status == "done"
    assert outcome.label == person
    assert outcome.details["gallery_size"] == gallery.people


def test_embeddings_of_another_network_are_refused_with_a_clear_message(lookalike, tmp_path):
    stale = tmp_path / "lfw"
    shutil.copytree(shipped.FOLDER, stale)
    manifest = json.loads((stale / "manifest.json").read_text())
    manifest["network"]["sha256"] = "0" * 64
    (stale / "manifest.json").write_text(json.dumps(manifest))

    with pytest.raises(Refused, match="Rebuild them with `manage.py build_gallery`"):
        gallery_services.shipped_gallery_load(
            gallery=shipped.read(stale), versions=[lookalike.promoted_version]
        )
    with pytest.raises(CommandError, match="computed with dlib_face_recognition_resnet_model_v1"):
        _setup_gallery(shipped=str(stale))
    assert not PersonPhoto.objects.exists()


def test_the_command_rebuilds_it_with_the_served_network(lookalike, tmp_path):
    source = tmp_path / "celebrities"
    for name, photo in (("Kit Harington", "kit-harington.jpg"), ("Nobody", "fox-squirrel.jpg")):
        folder = source / name.replace(" ", "_")
        folder.mkdir(parents=True)
        shutil.copy(EXAMPLES / photo, folder / photo)
    (source / "labels.csv").write_text(
        "path,identity\nKit_Harington/kit-harington.jpg,Kit Harington\n"
        "Nobody/fox-squirrel.jpg,Nobody\n"
    )
    out, err = io.StringIO(), io.StringIO()
    call_command(
        "build_gallery", str(source), out=str(tmp_path / "built"), jobs=1, stdout=out, stderr=err
    )
    assert "1 photos of 1 people (1 without a face)" in out.getvalue()
    assert "no face found: Nobody/fox-squirrel.jpg" in err.getvalue()
    built = shipped.read(tmp_path / "built")
    assert built.network_sha256 == lookalike.promoted_version.sha256
    assert (
        gallery_services.shipped_gallery_load(gallery=built, versions=[lookalike.promoted_version])
        == 1
    )
    assert Person.objects.get().name == "Kit Harington"
