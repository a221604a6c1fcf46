"""The FastAPI application."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI

from api import errors
from api.routes import agents, audit, deployments, health, jobs, logs, pools, queue, summary
from infra.services import open_services
from infra.settings import Settings


def create_app(settings: Settings | None = None) -> FastAPI:
    settings = settings or Settings()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        app.state.services = await open_services(settings, "jetdeck-api")
        await app.state.services.access.bootstrap(settings)
        try:
            yield
        finally:
            await app.state.services.close()

    app = FastAPI(
        title="JetDeck",
        summary="Event-sourced CI/CD control plane on NATS JetStream",
        version="0.1.0",
        docs_url="/api/docs",
        openapi_url="/api/openapi.json",
        redoc_url=None,
        max_body_size=settings.max_body_bytes,
        lifespan=lifespan,
    )
    errors.install(app)
    for module in (jobs, deployments, summary, queue, logs, agents, pools, audit, health):
        app.include_router(module.router)
    return app
