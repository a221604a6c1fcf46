"""One example of each request and response body, for the OpenAPI document (api/openapi.py puts
each on its model's schema). Kept here rather than on the models, since many of those are the
domain's and the read models', which know nothing of documentation; a test validates each example
against its model."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel

from api.examples.bodies import BODIES
from api.examples.dora import DORA
from api.examples.views import LISTED

EXAMPLES: dict[type[BaseModel], dict[str, Any]] = LISTED | BODIES | DORA


def by_title() -> dict[str, dict[str, Any]]:
    """Each example by the title of its model's schema: the model's name, and `Page[<name>]`
    for the page of a list (its example holds the item's)."""
    pages = {
        f"Page[{model.__name__}]": {"items": [item], "next_cursor": None}
        for model, item in LISTED.items()
    }
    return {model.__name__: example for model, example in EXAMPLES.items()} | pages
