"""Operational metrics: the admin JSON view and the Prometheus scrape."""

from dependency_injector.wiring import Provide, inject
from starlette.requests import Request
from starlette.responses import Response

from app.prometheus import PrometheusExporter
from app.responses import json_response
from app.schemas import PerformanceMetrics
from app.services.config_cache import ConfigProvider
from app.services.metrics import MetricsCollector


@inject
async def admin_metrics(request: Request,
                        metrics: MetricsCollector = Provide["metrics"],
                        configs: ConfigProvider = Provide["config_provider"]) -> Response:
    return json_response(PerformanceMetrics.model_validate(metrics.performance(cache=configs)))


@inject
async def prometheus(request: Request,
                     exporter: PrometheusExporter = Provide["prometheus"]) -> Response:
    body, content_type = exporter.render()
    return Response(body, media_type=content_type)
