from django.contrib import admin
from django.contrib.auth import views as auth_views
from django.urls import include, path

from portfolio import logins, views

urlpatterns = [
    path("admin/", admin.site.urls),
    path("accounts/signup/", views.signup, name="signup"),
    path("accounts/delete/", views.account_delete, name="account-delete"),
    # Before Django's own account routes, which they override: the login page
    # offers password reset, and reset exists at all, only when mail is set up.
    path("accounts/login/", logins.LoginView.as_view(), name="login"),
    path(
        "accounts/password_reset/",
        logins.mail_required(auth_views.PasswordResetView.as_view()),
        name="password_reset",
    ),
    path(
        "accounts/password_reset/done/",
        logins.mail_required(auth_views.PasswordResetDoneView.as_view()),
        name="password_reset_done",
    ),
    path(
        "accounts/reset/<uidb64>/<token>/",
        logins.mail_required(auth_views.PasswordResetConfirmView.as_view()),
        name="password_reset_confirm",
    ),
    path(
        "accounts/reset/done/",
        logins.mail_required(auth_views.PasswordResetCompleteView.as_view()),
        name="password_reset_complete",
    ),
    path("accounts/", include("django.contrib.auth.urls")),
    path("healthz", views.healthz, name="healthz"),
    path("health/live", views.health_live, name="health-live"),
    path("health/ready", views.health_ready, name="health-ready"),
    path("", include("classifiers.urls")),
]

# The REST API (classifiers/api), its OpenAPI schema and docs, and the account
# page for API tokens. Docs assets come from drf-spectacular-sidecar: no CDN.
from csp.constants import UNSAFE_INLINE  # noqa: E402
from csp.decorators import csp_update  # noqa: E402
from drf_spectacular.views import (  # noqa: E402
    SpectacularAPIView,
    SpectacularRedocView,
    SpectacularSwaggerSplitView,
)

from classifiers.api.views_token import token_page  # noqa: E402

_DOCS_CSP = {"style-src": [UNSAFE_INLINE], "worker-src": ["'self'", "blob:"]}

urlpatterns += [
    path("accounts/token/", token_page, name="api-token"),
    path("api/v1/", include("classifiers.api.urls")),
    path("api/schema/", SpectacularAPIView.as_view(), name="api-schema"),
    # The split Swagger view serves its start-up script as a file, not inline, so
    # the Content-Security-Policy keeps scripts to 'self'. Both docs pages style
    # themselves with inline <style> (ReDoc writes its own, and runs its search
    # in a blob: worker): allowed on these two pages only.
    path(
        "api/docs/",
        csp_update(_DOCS_CSP)(SpectacularSwaggerSplitView.as_view(url_name="api-schema")),
        name="api-docs",
    ),
    path(
        "api/redoc/",
        csp_update(_DOCS_CSP)(SpectacularRedocView.as_view(url_name="api-schema")),
        name="api-redoc",
    ),
]

# Under /api/ even the errors that no API view raises are JSON (classifiers.api.errors).
handler400 = "classifiers.api.errors.bad_request"
handler403 = "classifiers.api.errors.permission_denied"
handler404 = "classifiers.api.errors.page_not_found"
handler500 = "classifiers.api.errors.server_error"
