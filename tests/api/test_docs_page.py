"""`/api/docs` loads nothing from outside the server: it works without internet."""

from __future__ import annotations

import re

from fastapi import FastAPI

from tests.api.conftest import http_client

ASSET = re.compile(r"""(?:src|href)=["']?([^"' >]+)""")


async def test_the_docs_page_and_every_asset_it_names_come_from_this_server(app: FastAPI) -> None:
    async with http_client(app, token=None) as anonymous:
        page = await anonymous.get("/api/docs")
        assert page.status_code == 200
        assert page.headers["content-type"].startswith("text/html")
        assert "://" not in page.text  # no CDN, no other host
        assets = ASSET.findall(page.text)
        assert len(assets) == 3  # the script, the style sheet and the icon
        assert "'/api/openapi.json'" in page.text or '"/api/openapi.json"' in page.text
        for path in assets:
            asset = await anonymous.get(path)
            assert asset.status_code == 200, path
            assert asset.content, path
            assert "immutable" in asset.headers["cache-control"], path
        missing = await anonymous.get("/api/static/vendor/swagger-ui-5.35.0/nothing.js")
        assert missing.status_code == 404
