"""`/api/docs`: Swagger UI from vendored assets (api/static/vendor/VENDOR.md), so the page works
on a machine without internet; FastAPI's own loads it from a CDN.

Public, as `/api/openapi.json` is: the contract is no secret, and each call the page makes
carries its own credentials. The assets sit under versioned paths and are cached for good."""

from __future__ import annotations

from pathlib import Path

from fastapi import APIRouter, FastAPI
from fastapi.openapi.docs import get_swagger_ui_html
from fastapi.responses import HTMLResponse
from fastapi.staticfiles import StaticFiles
from starlette.responses import Response
from starlette.types import Scope

STATIC = Path(__file__).parent / "static"
STATIC_URL = "/api/static"
SWAGGER = f"{STATIC_URL}/vendor/swagger-ui-5.35.0"

router = APIRouter(include_in_schema=False)


class ImmutableFiles(StaticFiles):
    """A versioned path never changes content: browsers keep it a year without asking."""

    async def get_response(self, path: str, scope: Scope) -> Response:
        response = await super().get_response(path, scope)
        if response.status_code == 200:
            response.headers["Cache-Control"] = "public, max-age=31536000, immutable"
        return response


@router.get("/api/docs")
async def docs() -> HTMLResponse:
    return get_swagger_ui_html(
        openapi_url="/api/openapi.json",
        title="JetDeck API",
        swagger_js_url=f"{SWAGGER}/swagger-ui-bundle.js",
        swagger_css_url=f"{SWAGGER}/swagger-ui.css",
        swagger_favicon_url=f"{SWAGGER}/favicon-32x32.png",
    )


def install(app: FastAPI) -> None:
    app.include_router(router)
    app.mount(STATIC_URL, ImmutableFiles(directory=STATIC), name="static")
