import pytest

from classifiers import services
from classifiers.models import ModelVersion, ModelVersionStatus, Promotion


def _copy_version(version, **changes):
    fields = {f.name: getattr(version, f.name) for f in ModelVersion._meta.fields if f.name != "id"}
    fields.update(changes)
    return ModelVersion.objects.create(**fields)


def test_promoting_writes_an_audit_row(demos, staff):
    demo = demos["cats-vs-dogs"]
    v1 = demo.promoted_version
    v2 = _copy_version(v1, number=2)
    promotion = services.model_version_promote(version=v2, actor=staff, reason="better")
    demo.refresh_from_db()
    assert demo.promoted_version == v2
    assert (promotion.from_version, promotion.to_version, promotion.actor) == (v1, v2, staff)
    assert Promotion.objects.filter(demo=demo).count() == 2  # set-up's, then this one


def test_it_refuses_to_promote_a_version_that_is_not_ready(demos):
    demo = demos["cats-vs-dogs"]
    v2 = _copy_version(demo.promoted_version, number=2, status=ModelVersionStatus.INVALID)
    with pytest.raises(ValueError, match="not ready"):
        services.model_version_promote(version=v2)
    demo.refresh_from_db()
    assert demo.promoted_version.number == 1
