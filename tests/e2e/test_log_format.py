"""One format for every logger of a JetDeck process, as `configure_logging` leaves it: ours,
uvicorn's and FastStream's (which bring handlers and colours of their own) and the supervisor's
line about a restarted worker. Run in a process of its own: configuring replaces the handlers of
the process it runs in."""

from __future__ import annotations

import subprocess
import sys
from typing import Any

import orjson

SCRIPT = """
import logging
import faststream  # its logger comes with a coloured handler of its own
from infra.logging_setup import broker_logger, configure_logging

configure_logging()
logging.getLogger("uvicorn.error").info("Started server process", extra={"color_message": "x"})
logging.getLogger("uvicorn.access").info('%s - "%s %s"', "127.0.0.1:1", "GET", "/metrics")
logging.getLogger("faststream").info("FastStream app started successfully!")
broker_logger().info("received", extra={"subject": "ev.job.1.deadlettered"})
logging.getLogger("jetdeck.supervisor").error(
    "worker %s exited with %d; restarting in %.1f s", "workers.dead_letters", -9, 0.5
)
"""


def logged() -> list[dict[str, Any]]:
    done = subprocess.run(
        [sys.executable, "-c", SCRIPT], capture_output=True, timeout=60, check=True
    )
    assert done.stdout == b""  # FastStream's access log would go to stdout
    return [orjson.loads(line) for line in done.stderr.splitlines()]


def test_every_logger_writes_one_json_object_a_line() -> None:
    lines = logged()
    assert [(line["logger"], line["level"]) for line in lines] == [
        ("uvicorn.error", "info"),
        ("uvicorn.access", "info"),
        ("faststream", "info"),
        ("faststream.access", "info"),
        ("jetdeck.supervisor", "error"),
    ]
    assert all(line["timestamp"].endswith("Z") for line in lines)
    assert "color_message" not in lines[0]
    assert lines[1]["message"] == '127.0.0.1:1 - "GET /metrics"'
    assert lines[3]["subject"] == "ev.job.1.deadlettered"
    restarted = lines[4]["message"]
    assert restarted == "worker workers.dead_letters exited with -9; restarting in 0.5 s"
    assert not any("\x1b[" in str(line) for line in lines)
