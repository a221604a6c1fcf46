"""Old events decode with today's code, forever, and no event class changes shape unnoticed.

* Every (type, class version) from v1 to today's has a golden sample, captured from a real
  append; each decodes (upcast to today's version) and today's version re-encodes byte for byte.
* Every class version's JSON schema is committed: a class whose schema changed while its
  `class_version` did not fails here. Bump `class_version`, add `upcast_vN_vN+1`, capture.
"""

from __future__ import annotations

import orjson
import pytest

from domain.catalog import EVENT_TYPES
from domain.recorded import chain_hash
from infra.codec import decode, encode
from tests.golden import CAPTURE, EVENTS, sample_path, schema_of, schema_path, write_new

HOW = "run `JETDECK_GOLDEN_CAPTURE=1 pytest` to capture it from a real append"
VERSIONS = [(name, v) for name, cls in EVENT_TYPES.items() for v in range(1, cls.class_version + 1)]


@pytest.mark.parametrize(("name", "version"), VERSIONS)
def test_every_version_has_a_sample_that_decodes(name: str, version: int) -> None:
    path = sample_path(name, version)
    assert path.exists(), f"no golden sample for {name} v{version}: {HOW}"
    sample = orjson.loads(path.read_bytes())
    content = sample["content"].encode()
    recorded = decode(1, sample["subject"], content)
    assert recorded.type == name
    assert type(recorded.event) is EVENT_TYPES[name]
    assert recorded.hash == chain_hash(sample["subject"], content)
    if version == EVENT_TYPES[name].class_version:
        assert encode(recorded.event, recorded.cause, recorded.prev) == content


def test_no_sample_of_an_unknown_type_or_version() -> None:
    known = {sample_path(name, v).name for name, v in VERSIONS}
    assert {path.name for path in EVENTS.glob("*.json")} <= known


@pytest.mark.parametrize("name", list(EVENT_TYPES))
def test_schema_changes_only_with_a_new_class_version(name: str) -> None:
    cls = EVENT_TYPES[name]
    path = schema_path(name, cls.class_version)
    if CAPTURE:
        write_new(path, schema_of(cls))
    assert path.exists(), f"no committed schema for {name} v{cls.class_version}: {HOW}"
    assert orjson.loads(path.read_bytes()) == schema_of(cls), (
        f"{name} changed shape but is still v{cls.class_version}: bump class_version, add "
        f"upcast_v{cls.class_version}_v{cls.class_version + 1}, and capture the new version"
    )


@pytest.mark.parametrize("name", list(EVENT_TYPES))
def test_upcaster_chain_is_complete(name: str) -> None:
    cls = EVENT_TYPES[name]
    missing = [
        f"upcast_v{v}_v{v + 1}"
        for v in range(1, cls.class_version)
        if not callable(getattr(cls, f"upcast_v{v}_v{v + 1}", None))
    ]
    assert missing == [], f"{name} v{cls.class_version} cannot read older events"
