from django.urls import path

from classifiers import views, views_versions

app_name = "classifiers"

urlpatterns = [
    path("", views.gallery, name="gallery"),
    path("demos/<slug:slug>/", views.demo_detail, name="demo"),
    path("predictions/<uuid:prediction_id>/", views.prediction_detail, name="prediction"),
    path(
        "predictions/<uuid:prediction_id>/status/",
        views.prediction_status,
        name="prediction-status",
    ),
    path(
        "predictions/<uuid:prediction_id>/image/", views.prediction_image, name="prediction-image"
    ),
    path(
        "predictions/<uuid:prediction_id>/heatmap/",
        views.prediction_heatmap,
        name="prediction-heatmap",
    ),
    path(
        "predictions/<uuid:prediction_id>/delete/",
        views.prediction_delete,
        name="prediction-delete",
    ),
    path("history/", views.history, name="history"),
    path("history/clear/", views.history_clear, name="history-clear"),
    path("gallery/photos/<int:pk>/", views.gallery_photo, name="gallery-photo"),
    # Model versions: the public history, then staff pages (views_versions).
    path("demos/<slug:slug>/versions/", views_versions.version_history, name="versions"),
    path("demos/<slug:slug>/versions/new/", views_versions.version_new, name="version-new"),
    path(
        "demos/<slug:slug>/versions/<int:number>/",
        views_versions.version_detail,
        name="version",
    ),
    path(
        "demos/<slug:slug>/versions/<int:number>/promote/",
        views_versions.version_promote,
        name="version-promote",
    ),
    path(
        "demos/<slug:slug>/versions/<int:number>/rollback/",
        views_versions.version_rollback,
        name="version-rollback",
    ),
    path(
        "demos/<slug:slug>/versions/<int:number>/compare/",
        views_versions.version_compare,
        name="version-compare",
    ),
    path(
        "demos/<slug:slug>/comparisons/<int:comparison_id>/",
        views_versions.comparison_detail,
        name="comparison",
    ),
    path(
        "demos/<slug:slug>/evaluation-sets/",
        views_versions.evaluation_sets,
        name="evaluation-sets",
    ),
    path(
        "staff/predictions/<uuid:prediction_id>/image/",
        views_versions.staff_prediction_image,
        name="staff-prediction-image",
    ),
    path(
        "predictions/<uuid:prediction_id>/rerun/",
        views_versions.prediction_rerun,
        name="prediction-rerun",
    ),
]
