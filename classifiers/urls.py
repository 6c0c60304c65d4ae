from django.urls import path

from classifiers.feedback import views as feedback_views
from classifiers.gallery import views as gallery_views
from classifiers.monitoring import views as monitoring_views
from classifiers.predictions import share_views
from classifiers.predictions import views as prediction_views
from classifiers.versions import views as version_views

app_name = "classifiers"

urlpatterns = [
    # Demos and predictions (classifiers/predictions).
    path("", prediction_views.gallery, name="gallery"),
    path("demos/<slug:slug>/", prediction_views.demo_detail, name="demo"),
    path(
        "predictions/<uuid:prediction_id>/", prediction_views.prediction_detail, name="prediction"
    ),
    path(
        "predictions/<uuid:prediction_id>/status/",
        prediction_views.prediction_status,
        name="prediction-status",
    ),
    path(
        "predictions/<uuid:prediction_id>/image/",
        prediction_views.prediction_image,
        name="prediction-image",
    ),
    path(
        "predictions/<uuid:prediction_id>/heatmap/",
        prediction_views.prediction_heatmap,
        name="prediction-heatmap",
    ),
    path(
        "predictions/<uuid:prediction_id>/delete/",
        prediction_views.prediction_delete,
        name="prediction-delete",
    ),
    path(
        "predictions/<uuid:prediction_id>/restore/",
        prediction_views.prediction_restore,
        name="prediction-restore",
    ),
    path(
        "predictions/<uuid:prediction_id>/rerun/",
        prediction_views.prediction_rerun,
        name="prediction-rerun",
    ),
    # Sharing an answer (classifiers/predictions/share_views.py): owner's
    # actions, then the public page its link opens.
    path(
        "predictions/<uuid:prediction_id>/share/",
        share_views.prediction_share,
        name="prediction-share",
    ),
    path(
        "predictions/<uuid:prediction_id>/unshare/",
        share_views.prediction_unshare,
        name="prediction-unshare",
    ),
    path("shared/<str:token>/", share_views.shared_detail, name="shared"),
    path("shared/<str:token>/image/", share_views.shared_image, name="shared-image"),
    path("shared/<str:token>/heatmap/", share_views.shared_heatmap, name="shared-heatmap"),
    # Flags of wrong answers and their review (classifiers/feedback).
    path(
        "predictions/<uuid:prediction_id>/flag/",
        feedback_views.prediction_flag,
        name="prediction-flag",
    ),
    path("shared/<str:token>/flag/", feedback_views.shared_flag, name="shared-flag"),
    path("staff/flags/", feedback_views.flags_overview, name="staff-flags-overview"),
    path("staff/flags/<slug:slug>/", feedback_views.flags_review, name="staff-flags"),
    path("staff/flags/<int:flag_id>/add/", feedback_views.flag_add, name="staff-flag-add"),
    path(
        "staff/flags/<int:flag_id>/dismiss/",
        feedback_views.flag_dismiss,
        name="staff-flag-dismiss",
    ),
    path("history/", prediction_views.history, name="history"),
    path("history/clear/", prediction_views.history_clear, name="history-clear"),
    # The look-alike gallery (classifiers/gallery).
    path("gallery/photos/<int:pk>/", gallery_views.gallery_photo, name="gallery-photo"),
    # Model versions: the public history, then staff pages (classifiers/versions).
    path("demos/<slug:slug>/versions/", version_views.version_history, name="versions"),
    path("demos/<slug:slug>/versions/new/", version_views.version_new, name="version-new"),
    path("demos/<slug:slug>/versions/<int:number>/", version_views.version_detail, name="version"),
    path(
        "demos/<slug:slug>/versions/<int:number>/promote/",
        version_views.version_promote,
        name="version-promote",
    ),
    path(
        "demos/<slug:slug>/versions/<int:number>/rollback/",
        version_views.version_rollback,
        name="version-rollback",
    ),
    path(
        "demos/<slug:slug>/versions/<int:number>/validate/",
        version_views.version_revalidate,
        name="version-revalidate",
    ),
    path(
        "demos/<slug:slug>/versions/<int:number>/remove/",
        version_views.version_remove,
        name="version-remove",
    ),
    path(
        "demos/<slug:slug>/versions/<int:number>/compare/",
        version_views.version_compare,
        name="version-compare",
    ),
    path(
        "demos/<slug:slug>/comparisons/<int:comparison_id>/",
        version_views.comparison_detail,
        name="comparison",
    ),
    path(
        "demos/<slug:slug>/evaluation-sets/",
        version_views.evaluation_sets,
        name="evaluation-sets",
    ),
    path(
        "staff/predictions/<uuid:prediction_id>/image/",
        version_views.staff_prediction_image,
        name="staff-prediction-image",
    ),
    # Staff: the queue, its workers, speed and failures (classifiers/monitoring).
    path("staff/queue/", monitoring_views.queue_monitor, name="staff-queue"),
]
