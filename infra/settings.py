"""Settings from JETDECK_* environment variables."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

from pydantic import Field, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from domain.health import HealthPolicy

Port = Annotated[int, Field(ge=1, le=65535)]


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
    registration_token: Annotated[str, Field(min_length=16)] = "jetdeck-dev-registration-token"
    """Agents present it to register. Set your own outside development."""
    agent_auth: bool = True
    """Agent calls need the agent's token; off only for trusted setups and tests."""
    health: HealthPolicy = HealthPolicy()
    """Agent health thresholds, e.g. JETDECK_HEALTH__DEGRADED_PCT=80."""
    token_secret: Annotated[str, Field(min_length=32)] | None = None
    """Signs claim and agent tokens; unset, one is made once and kept in NATS for every replica."""

    @model_validator(mode="after")
    def _retry_cap_not_below_base(self) -> Settings:
        if self.retry_cap_s < self.retry_base_s:
            raise ValueError("JETDECK_RETRY_CAP_S must be at least JETDECK_RETRY_BASE_S")
        return self

    @property
    def server_url(self) -> str:
        return self.nats_url or f"nats://127.0.0.1:{self.nats_port}"

    @property
    def server_urls(self) -> list[str]:
        return split_servers(self.server_url)
