import pytest

from classifiers.inference.refusals import Refused
from classifiers.models import ModelVersion, ModelVersionStatus, Promotion
from classifiers.versions import services as version_services


def _copy_version(version, **changes):
    fields = {f.name: getattr(version, f.name) for f in ModelVersion._meta.fields if f.name != "id"}
    fields.update(changes)
    return ModelVersion.objects.create(**fields)


def _next_number(demo) -> int:
    return demo.versions.order_by("-number").first().number + 1


def test_promoting_writes_an_audit_row(demos, staff):
    demo = demos["cats-vs-dogs"]
    served = demo.promoted_version
    new = _copy_version(served, number=_next_number(demo))
    promotion = version_services.model_version_promote(version=new, actor=staff, reason="better")
    demo.refresh_from_db()
    assert demo.promoted_version == new
    assert (promotion.from_version, promotion.to_version, promotion.actor) == (served, new, staff)
    assert Promotion.objects.filter(demo=demo).count() == 2  # set-up's, then this one


def test_it_refuses_to_promote_a_version_that_is_not_ready(demos):
    demo = demos["cats-vs-dogs"]
    served = demo.promoted_version
    invalid = _copy_version(served, number=_next_number(demo), status=ModelVersionStatus.INVALID)
    with pytest.raises(Refused, match="not ready"):
        version_services.model_version_promote(version=invalid)
    demo.refresh_from_db()
    assert demo.promoted_version == served
