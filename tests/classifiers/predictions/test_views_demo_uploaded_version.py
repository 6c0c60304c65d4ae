"""While a version uploaded by staff is served, the demo page describes that
version, not the shipped EfficientNet-Lite networks."""

from classifiers.models import ModelVersion
from classifiers.versions import services as version_services

ARCHITECTURE = (
    "A Keras functional model, 65 layers and 4.7 million parameters; it takes 224×224 RGB "
    "photos and gives 1000 probabilities."
)


def _uploaded(demo, staff) -> ModelVersion:
    v1 = demo.versions.get(number=1)
    fields = {f.name: getattr(v1, f.name) for f in ModelVersion._meta.fields if f.name != "id"}
    fields.update(
        number=7,
        name="MobileNet <b>fine-tuned</b>",
        notes="Trained on 2,000 shelter photos.",
        created_by=staff,
        created_by_name=staff.get_username(),
        metrics={**v1.metrics, "architecture": {"summary": ARCHITECTURE}},
    )
    return ModelVersion.objects.create(**fields)


def test_the_demo_page_describes_the_uploaded_version_it_serves(client, demos, django_user_model):
    staff = django_user_model.objects.create_user("ada-ops", is_staff=True)
    demo = demos["cats-vs-dogs"]
    html = client.get("/demos/cats-vs-dogs/").content.decode()
    assert "An EfficientNet-Lite network trained on ImageNet-1k." in html

    version = _uploaded(demo, staff)
    version_services.model_version_promote(version=version, actor=staff, reason="try it")
    html = client.get("/demos/cats-vs-dogs/").content.decode()

    assert "EfficientNet-Lite" not in html
    assert "It now runs a network uploaded by the site's staff:" in html
    assert "<strong>MobileNet &lt;b&gt;fine-tuned&lt;/b&gt;</strong>" in html
    assert "Trained on 2,000 shelter photos." in html
    assert ARCHITECTURE in html
    assert demo.summary in html
    assert "ada-ops" not in html  # staff names stay private

    model_card = client.get("/demos/cats-vs-dogs/versions/").content.decode()
    model_card = model_card[model_card.index('id="model-card"') : model_card.index('id="versions"')]
    assert "Uploaded by the site's staff on" in model_card
    assert ARCHITECTURE in model_card


def test_the_shipped_description_returns_after_a_rollback(client, demos, staff):
    demo = demos["cats-vs-dogs"]
    version_services.model_version_promote(version=_uploaded(demo, staff), actor=staff, reason="x")
    version_services.model_version_rollback(demo=demo, actor=staff, reason="worse")
    html = client.get("/demos/cats-vs-dogs/").content.decode()
    assert "An EfficientNet-Lite network trained on ImageNet-1k." in html
    assert "uploaded by the site" not in html
