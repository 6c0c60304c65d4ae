from django.urls import path

from classifiers.api import views, views_monitoring

app_name = "api"

urlpatterns = [
    path("demos/", views.DemoListApi.as_view(), name="demos"),
    path("predictions/", views.PredictionListCreateApi.as_view(), name="predictions"),
    path(
        "predictions/<uuid:prediction_id>/",
        views.PredictionDetailApi.as_view(),
        name="prediction",
    ),
    path(
        "predictions/<uuid:prediction_id>/image/",
        views.PredictionImageApi.as_view(),
        name="prediction-image",
    ),
    path(
        "predictions/<uuid:prediction_id>/heatmap/",
        views.PredictionHeatmapApi.as_view(),
        name="prediction-heatmap",
    ),
    path("staff/queue/", views_monitoring.StaffQueueApi.as_view(), name="staff-queue"),
    path(
        "predictions/<uuid:prediction_id>/share/",
        views.PredictionShareApi.as_view(),
        name="prediction-share",
    ),
]
