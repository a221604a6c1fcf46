"""The version of the code that folds events into read models and stores their pictures."""

from __future__ import annotations

import hashlib
from functools import cache
from pathlib import Path

import domain
import projections
from infra import pictures, resume, snapshots


@cache
def code_version() -> str:
    """Changes whenever any source file of the domain or of the read models changes, or the
    modules that store their pictures and resume points (they own those formats). Read once
    per process: every past state builds a runner, and the code does not change under a
    running process."""
    digest = hashlib.sha256()
    packages = (domain, projections)
    sources = [path for p in packages for path in sorted(Path(p.__path__[0]).glob("*.py"))]
    for path in [
        *sources,
        Path(pictures.__file__),
        Path(snapshots.__file__),
        Path(resume.__file__),
    ]:
        digest.update(path.name.encode() + b"\0" + path.read_bytes())
    return digest.hexdigest()[:16]
