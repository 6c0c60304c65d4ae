import io
import tarfile
import zipfile
from collections import Counter, defaultdict

import pytest
from django.core.management import CommandError, call_command

from classifiers.management.commands.setup_gallery import DEFAULT_GALLERY, PackagedPhoto
from classifiers.models import FaceEmbedding, Person, PersonPhoto
from tests.classifiers.faces_data import lfw_photos, needs_lfw


def setup_gallery(*args) -> tuple[str, str]:
    """The packaged photos alone (the shipped gallery: gallery/test_shipped.py)."""
    out, err = io.StringIO(), io.StringIO()
    call_command("setup_gallery", *map(str, args), shipped="", stdout=out, stderr=err)
    return out.getvalue(), err.getvalue()


def _fake_packages(folder, contents: list[tuple[PackagedPhoto, bytes]]) -> None:
    """Archives named and laid out like the real ones, holding other face photos."""
    archives: dict[str, list[tuple[str, bytes]]] = defaultdict(list)
    for photo, data in contents:
        name = photo.archive.replace("*", "cp311-cp311-manylinux_2_17_x86_64")
        archives[name].append((photo.member, data))
    for name, members in archives.items():
        if name.endswith(".whl"):
            with zipfile.ZipFile(folder / name, "w") as zf:
                for member, data in members:
                    zf.writestr(member, data)
        else:
            with tarfile.open(folder / name, "w:gz") as tf:
                for member, data in members:
                    info = tarfile.TarInfo(member)
                    info.size = len(data)
                    tf.addfile(info, io.BytesIO(data))


def test_it_names_a_source_for_every_default_photo():
    assert {p.name for p in DEFAULT_GALLERY} == {
        "Barack Obama",
        "Joe Biden",
        "Eileen Collins",
        "Grace Hopper",
        "Tom Hanks",
    }
    assert all(isinstance(p, PackagedPhoto) and "PyPI" in p.source for p in DEFAULT_GALLERY)


@needs_lfw
def test_it_enrolls_the_default_gallery_once_however_often_it_runs(demos, tmp_path):
    lfw = lfw_photos()
    # Each default person played by one LFW person, a different photo per entry.
    stand_in = dict(zip(sorted({p.name for p in DEFAULT_GALLERY}), sorted(lfw), strict=False))
    used: Counter = Counter()
    contents = []
    for photo in DEFAULT_GALLERY:
        contents.append((photo, lfw[stand_in[photo.name]][used[photo.name]].read_bytes()))
        used[photo.name] += 1
    _fake_packages(tmp_path, contents)

    out, err = setup_gallery(tmp_path)
    assert "enrolled Grace Hopper from grace_hopper.jpg" in out
    assert "celebrity-lookalike gallery: 5 people" in out
    assert err == ""
    count = PersonPhoto.objects.count()

    out, _ = setup_gallery(tmp_path)
    assert "enrolled" not in out
    assert PersonPhoto.objects.count() == count
    assert Person.objects.count() == 5
    assert FaceEmbedding.objects.filter(vector__isnull=False).count() == count


def test_it_leaves_the_gallery_empty_without_the_packages(demos, tmp_path):
    out, err = setup_gallery(tmp_path / "absent")
    assert "not found" in err
    assert "celebrity-lookalike gallery: 0 people" in out


def test_it_needs_a_served_lookalike_demo(db, tmp_path):
    with pytest.raises(CommandError, match="run setup_demos first"):
        setup_gallery(tmp_path)
