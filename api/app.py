"""The FastAPI application."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI

from api import docs_page, errors, idempotency, openapi
from api.body_limit import BodyLimitMiddleware
from api.live import routes as live
from api.live.hub import Hub
from api.login import Logins, Transports
from api.login_state import LoginStateMiddleware
from api.pages import routes as pages
from api.request_metrics import RequestMetricsMiddleware
from api.routes import (
    access,
    agents,
    audit,
    deployments,
    dora,
    events,
    health,
    jobs,
    login,
    logs,
    metrics,
    pools,
    queue,
    queue_batch,
    summary,
    token_exchange,
    trust,
)
from infra.jwks import HttpFactory
from infra.services import open_services
from infra.settings import Settings

CONNECTION_NAME = "jetdeck-api"
"""What an API process calls its NATS connection, as the servers' monitoring lists it; its
finished jobs' file is named after it too (`finished-jobs-jetdeck-api`), so a new name would
start that file afresh."""


def create_app(
    settings: Settings | None = None,
    http: HttpFactory | None = None,
    login_transports: Transports | None = None,
) -> FastAPI:
    """`http` makes the clients that fetch OIDC issuers' keys (tests: an issuer in process);
    `login_transports` carry authlib's calls to login providers (tests: a fake GitHub)."""
    settings = settings or Settings()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        app.state.services = await open_services(
            settings, CONNECTION_NAME, http, snapshots=settings.write_snapshots, watch_workers=True
        )
        await app.state.services.access.bootstrap(settings)
        try:
            yield
        finally:
            app.state.live.close()
            await app.state.services.close()

    app = FastAPI(
        title="JetDeck",
        summary="Event-sourced CI/CD control plane on NATS JetStream",
        version="0.1.0",
        docs_url=None,  # api/docs_page serves it from vendored assets
        openapi_url="/api/openapi.json",
        redoc_url=None,
        lifespan=lifespan,
    )
    errors.install(app)
    openapi.install(app)
    docs_page.install(app)
    idempotency.install(app)  # after: its header goes on every answer openapi declares
    app.state.logins = Logins(settings, login_transports)
    app.state.live = Hub(settings.live_interval_s)
    app.add_middleware(LoginStateMiddleware, secure=settings.secure_cookies)
    app.add_middleware(BodyLimitMiddleware, max_bytes=settings.max_body_bytes)
    app.add_middleware(RequestMetricsMiddleware)  # last added, outermost: it times them all
    # Starlette tries the routes in order: the agents' calls, the busiest, are matched first.
    routers = (
        queue,
        queue_batch,
        agents,
        jobs,
        deployments,
        summary,
        dora,
        logs,
        pools,
        audit,
        events,
        access,
        health,
    )
    for module in (*routers, token_exchange, trust, login, metrics, pages, live):
        app.include_router(module.router)
    return app
