"""Settings from JETDECK_* environment variables."""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass, field
from pathlib import Path
from typing import Annotated
from urllib.parse import urlsplit

from pydantic import BaseModel, ConfigDict, Field, SecretStr, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from domain.health import HealthPolicy
from infra.login_settings import LoginProvider

Port = Annotated[int, Field(ge=1, le=65535)]
DEV_REGISTRATION_TOKEN = "jetdeck-dev-registration-token"


def is_loopback(host: str) -> bool:
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return host == "localhost"


def check_admin_token(secret: str) -> None:
    """A bootstrap token guards everything: refuse one that could be guessed."""
    if len(secret) < 32 or not secret.isascii() or not secret.isprintable():
        raise ValueError(
            "JETDECK_BOOTSTRAP_ADMIN_TOKEN must be at least 32 printable ASCII characters"
        )


def split_servers(url: str) -> list[str]:
    """JETDECK_NATS_URL may list a cluster's servers, separated by commas."""
    return [part.strip() for part in url.split(",") if part.strip()]


@dataclass(frozen=True)
class Login:
    """A NATS user and its password."""

    user: str
    password: str = field(repr=False)


def login_of(user: str | None, password: SecretStr | None) -> Login | None:
    if user is None and password is None:
        return None
    if user is None or password is None:
        raise ValueError("a NATS user needs both its name and its password")
    return Login(user, password.get_secret_value())


class WorkloadIdentitySettings(BaseModel):
    """How OIDC tokens from CI systems are checked, and what `POST /api/auth/token` hands out."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    registration_ttl_s: Annotated[int, Field(ge=60, le=3600)] = 900
    """Lifetime of the registration it answers with; PyPI's tokens live as long."""
    leeway_s: Annotated[int, Field(ge=0, le=120)] = 30
    """Clock skew allowed on `exp`, `iat` and `nbf`."""
    jwks_ttl_s: Annotated[float, Field(ge=60, le=86400)] = 3600.0
    """How long an issuer's keys are used before they are fetched again."""
    jwks_min_refresh_s: Annotated[float, Field(ge=0, le=3600)] = 60.0
    """Fetches of one issuer's keys are at least this far apart, however many unknown key ids
    arrive, so a flood of made-up tokens cannot make JetDeck hammer the issuer."""
    http_timeout_s: Annotated[float, Field(gt=0, le=30)] = 5.0


class Settings(BaseSettings):
    model_config = SettingsConfigDict(
        env_prefix="JETDECK_", env_nested_delimiter="__", extra="ignore"
    )

    nats_url: str | None = None
    """A running server to use; when unset `make run` starts an embedded one."""
    nats_port: Port = 4290
    nats_user: str | None = None
    """The runtime user JetDeck's processes connect as; `make run` sets it for its own server."""
    nats_password: SecretStr | None = None
    nats_admin_user: str | None = None
    """The layout user: only the layout step connects as it, to create and update streams."""
    nats_admin_password: SecretStr | None = None
    data_dir: Path = Path(".jetdeck")
    api_host: str = "127.0.0.1"
    api_port: Port = 8000
    metrics_port: Annotated[int, Field(ge=1, le=65000)] | None = None
    """Where each worker serves its `/metrics` (the API serves its own on the API port): this
    port plus the worker's place in `expected_workers`. Unset, workers serve none."""
    metrics_host: str = "127.0.0.1"
    """The workers' metrics listen here; those ports ask for no credentials."""
    replicas: Annotated[int, Field(ge=1, le=5)] = 1
    expected_workers: list[Annotated[str, Field(pattern=r"^[a-z_]{1,40}$")]] = [
        "gateway",
        "health_monitor",
        "dead_letters",
        "checkpointer",
    ]
    """Workers the API expects to hear from (`/api/health/ready`); `make run` starts these."""
    ready_max_lag: Annotated[int, Field(ge=0)] = 1000
    """Events the read models may be behind the stream and still count as ready."""
    snapshot_every: Annotated[int, Field(ge=100)] = 10_000
    """Events between two snapshots of the read models: at 5,000 a rebuild forks twice as often,
    for a past state (`as_of`) about as fast (its chain twice as long, its tail half: first
    request p95 300 and 567 ms for the summary and the job list, against 306-426 and about 600
    at 10,000)."""
    snapshot_keep_every: Annotated[int, Field(ge=100)] = 10_000
    """Snapshots kept: the newest in each run of this many events, so a past state (`as_of`)
    replays at most about this many events after its snapshot."""
    write_snapshots: bool = True
    """Whether this API process writes the snapshots; workers never do. With several API
    replicas, leave it on in one of them."""
    as_of_cache: Annotated[int, Field(ge=1, le=64)] = 4
    """Past states (`as_of`) each API process keeps, least recently used dropped first."""
    read_wait_s: Annotated[float, Field(gt=0, le=30)] = 5.0
    """How long a read with `min_seq` may wait for the read models."""
    log_retention_days: Annotated[float, Field(gt=0, le=36500)] = 30.0
    """How long LOGS keeps a chunk (the stream's `max_age`, set by the layout step); a log read
    after its job's chunks are gone answers 410 `logs_expired`. Events are kept forever."""
    log_follow_max_s: Annotated[float, Field(gt=0, le=86400)] = 3600.0
    """How long a `follow=true` log stream lasts before it ends with `event: timeout`; the
    client reconnects with `Last-Event-ID`, so no stream holds a connection for good."""
    live_keepalive_s: Annotated[float, Field(gt=0, le=300)] = 15.0
    """How often a dashboard page's live stream sends a comment while nothing changes, under
    proxies' idle timeouts; at the same pace it checks that its caller may still read."""
    live_interval_s: Annotated[float, Field(ge=0, le=10)] = 0.25
    """The least time between two renders of one live page: changes coalesce to at most 4 a
    second by default, whatever the write rate."""
    write_timeout_s: Annotated[float, Field(ge=0.1, le=60)] = 5.0
    """How long a write waits for the event store to confirm an append, retries included; past
    it the write answers 503 with its Idempotency-Key, since it may have landed."""
    max_body_bytes: Annotated[int, Field(ge=1024)] = 1_048_576
    append_retries: Annotated[int, Field(ge=0, le=50)] = 8
    queue_ack_wait_s: Annotated[float, Field(ge=1, le=3600)] = 30.0
    """Redelivery backstop for a claim whose process died before it recorded anything."""
    max_pools: Annotated[int, Field(ge=1, le=10_000)] = 200
    """Each pool costs four durable consumers: a job naming one pool too many gets 422."""
    run_at_horizon_s: Annotated[int, Field(ge=60, le=10 * 366 * 86400)] = 365 * 86400
    """How far ahead a job's `run_at` may be; later is a 422."""
    claim_poll_s: Annotated[float, Field(gt=0, le=5)] = 0.25
    claim_prefetch: Annotated[int, Field(ge=0, le=256)] = 8
    """Tickets a process may hold for the claims it expects next, beyond those of the claims
    waiting; each goes back once held `claim_poll_s`."""
    retry_base_s: Annotated[float, Field(gt=0, le=86400)] = 1.0
    retry_cap_s: Annotated[float, Field(gt=0, le=86400)] = 300.0
    retry_jitter: Annotated[float, Field(ge=0, le=1)] = 0.2
    registration_token: Annotated[SecretStr, Field(min_length=16)] = SecretStr(
        DEV_REGISTRATION_TOKEN
    )
    """Agents present it to register. Set your own outside development."""
    health: HealthPolicy = HealthPolicy()
    """Agent health thresholds, e.g. JETDECK_HEALTH__DEGRADED_PCT=80."""
    token_secret: Annotated[SecretStr, Field(min_length=32)] | None = None
    """Signs claim and agent tokens; unset, one is made once and kept in NATS for every replica."""
    writer_key: Annotated[str, Field(min_length=32)] | None = None
    """Seals every event (a MAC in its payload); unset, one is made once and kept in NATS. Only
    JetDeck's processes may hold it: whoever does can write events that pass as JetDeck's."""
    checkpoint_key: SecretStr | None = None
    """The Ed25519 key that signs checkpoints, as base64 of its 32-byte seed; unset, one is made
    at the first start into `<data_dir>/audit/checkpoint.key`."""
    checkpoint_every: Annotated[int, Field(ge=1)] = 10_000
    """Events between two signed checkpoints at most."""
    checkpoint_interval_s: Annotated[float, Field(gt=0)] = 300.0
    """Seconds between two signed checkpoints at most, while events arrive."""
    agent_token_ttl_s: Annotated[int, Field(ge=60, le=30 * 86400)] = 86400
    """An agent token's lifetime; every heartbeat answers with a fresh one."""
    bootstrap_admin_token: SecretStr | None = None
    """The admin token to create; unset, one is made once into `<data_dir>/admin-token`."""
    restore_from: Path | None = None
    """`make run` only: an export (`jetdeck export`) to import into the empty store at start,
    before the API or any worker writes to it."""
    anonymous_read: bool = False
    """Let callers with no credentials read (never write)."""
    public_url: str | None = None
    """Where browsers reach JetDeck (login redirects come back here); unset, the API's own
    loopback address. Never taken from a request's Host header, which the caller chooses."""
    oidc: dict[str, LoginProvider] = {}
    """Login providers by name, e.g. JETDECK_OIDC__GOOGLE__CLIENT_ID (see infra/login_settings)."""
    session_idle_s: Annotated[int, Field(ge=1)] = 8 * 3600
    """A login session unused this long ends."""
    session_max_s: Annotated[int, Field(ge=1)] = 7 * 86400
    """A login session ends this long after the login, however much it is used."""
    workload_identity: WorkloadIdentitySettings = WorkloadIdentitySettings()
    """OIDC token checks, e.g. JETDECK_WORKLOAD_IDENTITY__LEEWAY_S=10."""

    @model_validator(mode="after")
    def _retry_cap_not_below_base(self) -> Settings:
        if self.retry_cap_s < self.retry_base_s:
            raise ValueError("JETDECK_RETRY_CAP_S must be at least JETDECK_RETRY_BASE_S")
        return self

    @model_validator(mode="after")
    def _no_development_secrets_off_loopback(self) -> Settings:
        registration = self.registration_token.get_secret_value()
        if not is_loopback(self.api_host) and registration == DEV_REGISTRATION_TOKEN:
            raise ValueError(
                f"JETDECK_API_HOST={self.api_host} is reachable from other machines, but "
                "JETDECK_REGISTRATION_TOKEN is the development default: set a secret of your own"
            )
        if self.bootstrap_admin_token is not None:
            check_admin_token(self.bootstrap_admin_token.get_secret_value())
        return self

    @model_validator(mode="after")
    def _public_url_secure(self) -> Settings:
        """Session cookies are Secure, which browsers take over http from loopback alone, so an
        http URL elsewhere could never log in."""
        parts = urlsplit(self.public_base_url)
        if parts.scheme != "https" and not (
            parts.scheme == "http" and is_loopback(parts.hostname or "")
        ):
            raise ValueError(
                f"JETDECK_PUBLIC_URL must be https (or http on loopback), got {parts.geturl()!r}"
            )
        return self

    @model_validator(mode="after")
    def _nats_logins_complete(self) -> Settings:
        login_of(self.nats_user, self.nats_password)
        login_of(self.nats_admin_user, self.nats_admin_password)
        return self

    @property
    def server_url(self) -> str:
        return self.nats_url or f"nats://127.0.0.1:{self.nats_port}"

    @property
    def log_max_age_s(self) -> float:
        return self.log_retention_days * 86400

    @property
    def server_urls(self) -> list[str]:
        return split_servers(self.server_url)

    @property
    def public_base_url(self) -> str:
        return (self.public_url or f"http://127.0.0.1:{self.api_port}").rstrip("/")

    @property
    def secure_cookies(self) -> bool:
        """The login-state cookie's Secure flag: set wherever the public URL is https."""
        return urlsplit(self.public_base_url).scheme == "https"

    @property
    def nats_login(self) -> Login | None:
        """The runtime credential; None on an open server, or when the URL carries one."""
        return login_of(self.nats_user, self.nats_password)

    @property
    def layout_login(self) -> Login | None:
        """The admin credential; without one the runtime's, which only an open server lets
        create streams."""
        return login_of(self.nats_admin_user, self.nats_admin_password) or self.nats_login
