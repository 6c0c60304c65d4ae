from django.urls import path

from classifiers import views

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
]
