"""The reference agent's settings: command-line flags, each with a JETDECK_AGENT_* fallback.

A flag `--some-flag` falls back to `JETDECK_AGENT_SOME_FLAG`; the registration token also to
`JETDECK_REGISTRATION_TOKEN`, the API's own setting, so one environment can serve both.
"""

from __future__ import annotations

import argparse
import os
import socket
import tempfile
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

ENV_PREFIX = "JETDECK_AGENT_"


@dataclass(frozen=True)
class AgentConfig:
    api: str
    registration_token: str
    """Empty when the agent registers through workload identity instead."""
    id_token_file: Path | None
    """A file holding an OIDC token (a CI job's, a cloud's) to exchange for a registration;
    read at each registration, since such tokens are short-lived and rewritten."""
    name: str
    pool: str
    labels: tuple[str, ...]
    slots: int
    heartbeat_s: float
    """Used until the API names its own interval."""
    grace_s: float
    """Between SIGTERM and SIGKILL when a job is cancelled, times out or is abandoned."""
    shutdown_grace_s: float
    """After SIGTERM/SIGINT, how long running jobs may finish before being stopped and released."""
    claim_wait_s: float
    work_dir: Path
    log_level: str


def _positive_int(text: str) -> int:
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1, not {value}")
    return value


def _positive_float(text: str) -> float:
    value = float(text)
    if not value > 0:
        raise argparse.ArgumentTypeError(f"must be above 0, not {value}")
    return value


def _non_negative_float(text: str) -> float:
    value = float(text)
    if not value >= 0:
        raise argparse.ArgumentTypeError(f"must be 0 or more, not {value}")
    return value


def _labels(text: str) -> tuple[str, ...]:
    return tuple(sorted({label.strip() for label in text.split(",") if label.strip()}))


def _parser(env: Mapping[str, str]) -> argparse.ArgumentParser:
    def default(flag: str, fallback: str) -> str:
        return env.get(ENV_PREFIX + flag.upper().replace("-", "_"), fallback)

    token = default("registration-token", env.get("JETDECK_REGISTRATION_TOKEN", ""))
    parser = argparse.ArgumentParser(
        prog="python -m agent",
        description="JetDeck reference build agent: claims jobs over HTTP and runs them.",
        epilog="Every flag falls back to JETDECK_AGENT_<FLAG> (e.g. JETDECK_AGENT_SLOTS).",
    )
    add = parser.add_argument
    add("--api", default=default("api", "http://127.0.0.1:8000"), help="the API's base URL")
    add("--registration-token", default=token, help="presented once, to register")
    add(
        "--id-token-file",
        type=Path,
        default=default("id-token-file", "") or None,
        help="register through workload identity: exchange the OIDC token in this file",
    )
    add("--name", default=default("name", socket.gethostname()))
    add("--pool", default=default("pool", "default"))
    add("--labels", type=_labels, default=default("labels", ""), help="comma-separated")
    add("--slots", type=_positive_int, default=default("slots", "1"), help="jobs at once")
    add("--heartbeat-s", type=_positive_float, default=default("heartbeat-s", "10"))
    add("--grace-s", type=_non_negative_float, default=default("grace-s", "10"))
    add("--shutdown-grace-s", type=_non_negative_float, default=default("shutdown-grace-s", "30"))
    add("--claim-wait-s", type=_non_negative_float, default=default("claim-wait-s", "10"))
    add(
        "--work-dir",
        type=Path,
        default=default("work-dir", tempfile.gettempdir()),
        help="jobs run in a directory of this run's own under it, removed at exit",
    )
    add(
        "--log-level",
        default=default("log-level", "INFO"),
        type=str.upper,
        choices=["DEBUG", "INFO", "WARNING", "ERROR"],
    )
    return parser


def parse_args(
    argv: Sequence[str] | None = None, env: Mapping[str, str] = os.environ
) -> AgentConfig:
    parser = _parser(env)
    args = parser.parse_args(argv)
    if not args.registration_token and args.id_token_file is None:
        parser.error("--registration-token or --id-token-file is required to register")
    if args.claim_wait_s > 30:
        parser.error("--claim-wait-s may be at most 30")
    return AgentConfig(
        api=args.api.rstrip("/"),
        registration_token=args.registration_token,
        id_token_file=args.id_token_file,
        name=args.name,
        pool=args.pool,
        labels=args.labels,
        slots=args.slots,
        heartbeat_s=args.heartbeat_s,
        grace_s=args.grace_s,
        shutdown_grace_s=args.shutdown_grace_s,
        claim_wait_s=args.claim_wait_s,
        work_dir=args.work_dir,
        log_level=args.log_level.upper(),
    )
