"""Layers import downward only, checked on what a fresh interpreter loads: JetDeck's worker
processes load nothing of the HTTP API, the wire bodies nothing of a web framework, NATS or
infra, and the commands nothing beyond the domain."""

from __future__ import annotations

import pkgutil
import subprocess
import sys
from pathlib import Path

import pytest

import domain.commands
import wire
from workers.supervisor import WORKERS

ROOT = Path(__file__).parents[2]
PURE = frozenset({"api", "infra", "nats", "faststream", "fastapi", "starlette", "workers"})
MODULES = [
    *[(worker, frozenset({"api"})) for worker in WORKERS],
    *[(f"wire.{m.name}", PURE) for m in pkgutil.iter_modules(wire.__path__)],
    *[
        (f"domain.commands.{m.name}", PURE | {"wire"})
        for m in pkgutil.iter_modules(domain.commands.__path__)
    ],
]


def loaded_packages(module: str) -> set[str]:
    """The top-level packages importing `module` loads, in an interpreter of its own."""
    script = f"import sys, {module}; print(' '.join({{m.split('.')[0] for m in sys.modules}}))"
    done = subprocess.run(
        [sys.executable, "-c", script], cwd=ROOT, capture_output=True, text=True, check=True
    )
    return set(done.stdout.split())


@pytest.mark.parametrize(("module", "banned"), MODULES, ids=[m for m, _ in MODULES])
def test_a_module_loads_nothing_from_the_layers_above_it(
    module: str, banned: frozenset[str]
) -> None:
    loaded = loaded_packages(module)
    assert module.split(".")[0] in loaded
    assert not loaded & banned, f"{module} loads {sorted(loaded & banned)}"
