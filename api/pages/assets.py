"""Where the pages' scripts and styles are served: vendored packages under their versioned
directory (api/static/vendor/VENDOR.md), our own files with their content's hash in the query,
since `api.docs_page` serves everything under `/api/static` as immutable."""

from __future__ import annotations

import hashlib
from functools import cache

from api.docs_page import STATIC, STATIC_URL

HTMX = f"{STATIC_URL}/vendor/htmx-2.0.11/htmx.min.js"
HTMX_SSE = f"{STATIC_URL}/vendor/htmx-ext-sse-2.2.4/sse.min.js"


@cache
def own(name: str) -> str:
    """The URL of one of our files in api/static; a new content is a new URL."""
    digest = hashlib.sha256((STATIC / name).read_bytes()).hexdigest()[:12]
    return f"{STATIC_URL}/{name}?v={digest}"
