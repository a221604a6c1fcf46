"""The authorization matrix's tables of what the OpenAPI document leaves out: the dashboard's
pages and their live streams, with the same rules as `WHO_MAY`."""

from __future__ import annotations

from tests.api.test_authorization_matrix import PUBLIC, READ

PAGES: dict[str, object] = {
    "GET /": READ,
    "GET /dashboard": READ,
    "GET /jobs": READ,
    "GET /jobs/{job_id}": READ,
    "GET /deployments": READ,
    "GET /agents": READ,
    "GET /dead-letters": READ,
    "GET /audit/{aggregate}/{aggregate_id}": READ,
    "GET /login": PUBLIC,
}
"""The dashboard's pages, which the OpenAPI document leaves out: tests/api/test_pages_auth.py
holds them to this table, a refusal for want of credentials being the way to the login page."""
STREAMS: dict[str, object] = {
    "GET /live/{page}": READ,
}
"""The pages' live streams, also left out of the document: they need what their pages need,
and answer a refusal as a 401 or 403, since an EventSource follows no way to a login page
(tests/api/test_pages_auth.py)."""
