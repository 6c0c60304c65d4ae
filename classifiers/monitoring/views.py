"""The staff's queue page (its JSON twin for outside monitors is
classifiers.api.views_monitoring)."""

from __future__ import annotations

from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET

from classifiers.decorators import staff_required
from classifiers.monitoring import charts, selectors


@staff_required
@require_GET
@never_cache
def queue_monitor(request: HttpRequest) -> HttpResponse:
    report = selectors.queue_report()
    return render(
        request,
        "classifiers/monitoring/queue.html",
        {"report": report, "chart": charts.minute_bars(report.minutes)},
    )
