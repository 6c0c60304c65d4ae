"""The OpenAPI schema and its docs pages, which must work with no internet."""

import re

import yaml
from django.contrib.staticfiles import finders


def test_it_serves_an_openapi_3_schema_of_the_api(client, db):
    response = client.get("/api/schema/")
    assert response.status_code == 200
    schema = yaml.safe_load(response.content)
    assert schema["openapi"].startswith("3.")
    assert schema["info"]["title"] == "Model gallery API"
    paths = schema["paths"]
    assert set(paths["/api/v1/predictions/"]) == {"get", "post"}
    assert set(paths["/api/v1/predictions/{prediction_id}/"]) == {"get", "delete"}
    assert "get" in paths["/api/v1/demos/"]
    create = paths["/api/v1/predictions/"]["post"]
    assert "multipart/form-data" in create["requestBody"]["content"]
    assert {"202", "400", "401", "403", "413", "415", "429", "503"} <= set(create["responses"])
    assert "Location" in create["responses"]["202"]["headers"]
    assert "Retry-After" in create["responses"]["429"]["headers"]
    assert "tokenAuth" in schema["components"]["securitySchemes"]


def test_it_serves_the_schema_as_json_too(client, db):
    response = client.get("/api/schema/?format=json")
    assert response.status_code == 200
    assert response.json()["openapi"].startswith("3.")


def _assets(html: str) -> list[str]:
    return re.findall(r'(?:src|href)="([^"]+)"', html)


def test_it_serves_swagger_ui_from_its_own_static_files(client, db):
    response = client.get("/api/docs/")
    assert response.status_code == 200
    html = response.content.decode()
    # Its start-up script is a file too (no inline script: the CSP allows none).
    assert "<script>" not in html
    script = client.get("/api/docs/?script=")
    assert script["Content-Type"].startswith("application/javascript")
    assert "/api/schema/" in script.content.decode()
    assets = [a for a in _assets(html) if a != "/api/docs/?script="]
    assert any("swagger-ui-dist" in asset for asset in assets)
    assert all(asset.startswith("/static/") for asset in assets), assets
    for asset in assets:  # shipped with the site (collectstatic gathers them)
        assert finders.find(asset.removeprefix("/static/")), asset


def test_it_serves_redoc_from_its_own_static_files(client, db):
    html = client.get("/api/redoc/").content.decode()
    assets = [a for a in _assets(html) if "redoc" in a]
    assert assets and all(asset.startswith("/static/") for asset in assets), assets
