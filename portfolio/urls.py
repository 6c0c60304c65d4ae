from django.contrib import admin
from django.urls import include, path

from portfolio import views

urlpatterns = [
    path("admin/", admin.site.urls),
    path("accounts/signup/", views.signup, name="signup"),
    path("accounts/delete/", views.account_delete, name="account-delete"),
    path("accounts/", include("django.contrib.auth.urls")),
    path("healthz", views.healthz, name="healthz"),
    path("", include("classifiers.urls")),
]

# The REST API (classifiers/api), its OpenAPI schema and docs, and the account
# page for API tokens. Docs assets come from drf-spectacular-sidecar: no CDN.
from drf_spectacular.views import (  # noqa: E402
    SpectacularAPIView,
    SpectacularRedocView,
    SpectacularSwaggerView,
)

from classifiers.api.views_token import token_page  # noqa: E402

urlpatterns += [
    path("accounts/token/", token_page, name="api-token"),
    path("api/v1/", include("classifiers.api.urls")),
    path("api/schema/", SpectacularAPIView.as_view(), name="api-schema"),
    path("api/docs/", SpectacularSwaggerView.as_view(url_name="api-schema"), name="api-docs"),
    path("api/redoc/", SpectacularRedocView.as_view(url_name="api-schema"), name="api-redoc"),
]

# Under /api/ even the errors that no API view raises are JSON (classifiers.api.errors).
handler400 = "classifiers.api.errors.bad_request"
handler403 = "classifiers.api.errors.permission_denied"
handler404 = "classifiers.api.errors.page_not_found"
handler500 = "classifiers.api.errors.server_error"
