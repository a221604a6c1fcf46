"""Golden samples: one stored event per (type, class version), captured from real appends, and
the committed JSON schema of every event class version (research: replay.md §2.3).

`JETDECK_GOLDEN_CAPTURE=1 pytest` writes the samples and schemas that are missing, never one
that exists: a sample is a fact about what was once written, and old ones must decode forever.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import orjson

from domain.model import DomainEvent

HERE = Path(__file__).parent
EVENTS = HERE / "events"
SCHEMAS = HERE / "schemas"
CAPTURE = os.environ.get("JETDECK_GOLDEN_CAPTURE") == "1"


def sample_path(name: str, version: int) -> Path:
    return EVENTS / f"{name}.v{version}.json"


def schema_path(name: str, version: int) -> Path:
    return SCHEMAS / f"{name}.v{version}.json"


def schema_of(cls: type[DomainEvent]) -> dict[str, Any]:
    return cls.model_json_schema()


def write_new(path: Path, document: Any) -> bool:
    """Write `document` unless the file exists; True when it was written."""
    if path.exists():
        return False
    path.write_bytes(orjson.dumps(document, option=orjson.OPT_INDENT_2 | orjson.OPT_SORT_KEYS))
    return True
