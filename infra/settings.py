"""Settings from JETDECK_* environment variables."""

from __future__ import annotations

import ipaddress
from pathlib import Path
from typing import Annotated

from pydantic import Field, SecretStr, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from domain.health import HealthPolicy

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


class Settings(BaseSettings):
    model_config = SettingsConfigDict(
        env_prefix="JETDECK_", env_nested_delimiter="__", extra="ignore"
    )

    nats_url: str | None = None
    """A running server to use; when unset `make run` starts an embedded one."""
    nats_port: Port = 4290
    data_dir: Path = Path(".jetdeck")
    api_host: str = "127.0.0.1"
    api_port: Port = 8000
    replicas: Annotated[int, Field(ge=1, le=5)] = 1
    snapshot_every: Annotated[int, Field(ge=100)] = 10_000
    """Events between two snapshots of the read models."""
    read_wait_s: Annotated[float, Field(gt=0, le=30)] = 5.0
    """How long a read with `min_seq` may wait for the read models."""
    max_body_bytes: Annotated[int, Field(ge=1024)] = 1_048_576
    append_retries: Annotated[int, Field(ge=0, le=50)] = 8
    queue_ack_wait_s: Annotated[float, Field(ge=1, le=3600)] = 30.0
    """Redelivery backstop for a claim whose process died before it recorded anything."""
    max_pools: Annotated[int, Field(ge=1, le=10_000)] = 200
    """Each pool costs four durable consumers: a job naming one pool too many gets 422."""
    claim_poll_s: Annotated[float, Field(gt=0, le=5)] = 0.25
    retry_base_s: Annotated[float, Field(gt=0)] = 1.0
    retry_cap_s: Annotated[float, Field(gt=0)] = 300.0
    retry_jitter: Annotated[float, Field(ge=0, le=1)] = 0.2
    registration_token: Annotated[str, Field(min_length=16)] = DEV_REGISTRATION_TOKEN
    """Agents present it to register. Set your own outside development."""
    health: HealthPolicy = HealthPolicy()
    """Agent health thresholds, e.g. JETDECK_HEALTH__DEGRADED_PCT=80."""
    token_secret: Annotated[str, Field(min_length=32)] | None = None
    """Signs claim and agent tokens; unset, one is made once and kept in NATS for every replica."""
    agent_token_ttl_s: Annotated[int, Field(ge=60, le=30 * 86400)] = 86400
    """An agent token's lifetime; heartbeats hand out a fresh one once half of it has passed."""
    bootstrap_admin_token: SecretStr | None = None
    """The admin token to create; unset, one is made once into `<data_dir>/admin-token`."""
    anonymous_read: bool = False
    """Let callers with no credentials read (never write)."""

    @model_validator(mode="after")
    def _retry_cap_not_below_base(self) -> Settings:
        if self.retry_cap_s < self.retry_base_s:
            raise ValueError("JETDECK_RETRY_CAP_S must be at least JETDECK_RETRY_BASE_S")
        return self

    @model_validator(mode="after")
    def _no_development_secrets_off_loopback(self) -> Settings:
        if not is_loopback(self.api_host) and self.registration_token == DEV_REGISTRATION_TOKEN:
            raise ValueError(
                f"JETDECK_API_HOST={self.api_host} is reachable from other machines, but "
                "JETDECK_REGISTRATION_TOKEN is the development default: set a secret of your own"
            )
        if self.bootstrap_admin_token is not None:
            check_admin_token(self.bootstrap_admin_token.get_secret_value())
        return self

    @property
    def server_url(self) -> str:
        return self.nats_url or f"nats://127.0.0.1:{self.nats_port}"

    @property
    def server_urls(self) -> list[str]:
        return split_servers(self.server_url)
