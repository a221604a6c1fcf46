"""Every vendored asset is the file its manifest names, byte for byte, with its license."""

from __future__ import annotations

import hashlib
import re
from pathlib import Path

VENDOR = Path(__file__).parents[2] / "api" / "static" / "vendor"
ROW = re.compile(r"^\| (?P<file>[^ |]+) \| (?P<sha256>[0-9a-f]{64}) \|$", re.MULTILINE)


def manifest() -> dict[str, str]:
    text = (VENDOR / "VENDOR.md").read_text()
    return {row["file"]: row["sha256"] for row in ROW.finditer(text)}


def test_every_vendored_file_matches_its_manifest_hash_and_nothing_is_unlisted() -> None:
    listed = manifest()
    present = {str(p.relative_to(VENDOR)) for p in VENDOR.rglob("*") if p.is_file()}
    assert listed, "the manifest lists no file"
    assert present - {"VENDOR.md"} == set(listed)
    for name, digest in listed.items():
        assert hashlib.sha256((VENDOR / name).read_bytes()).hexdigest() == digest, name


def test_every_vendored_package_carries_its_license() -> None:
    packages = {Path(name).parts[0] for name in manifest()}
    for package in packages:
        assert (VENDOR / package / "LICENSE").read_text().strip(), package
