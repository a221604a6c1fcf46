"""`GET /metrics`: this API process's metrics and its read models' gauges, for Prometheus.

Protected like any read: the figures name pools, routes and how busy JetDeck is. Prometheus
sends a token with the viewer role (`authorization: credentials_file: ...` in its scrape job).
"""

from __future__ import annotations

from fastapi import APIRouter, Response
from prometheus_client import CONTENT_TYPE_LATEST

from api.auth import PROTECTED, Reading
from api.deps import ServicesDep
from infra.metrics_views import exposition

router = APIRouter(tags=["operations"], dependencies=[Reading], responses=PROTECTED)
TEXT = {"content": {"text/plain": {"schema": {"type": "string"}}}}


@router.get(
    "/metrics",
    response_class=Response,
    responses={200: {"description": "Prometheus text format.", **TEXT}},
)
async def metrics(services: ServicesDep) -> Response:
    return Response(await exposition(services), media_type=CONTENT_TYPE_LATEST)
