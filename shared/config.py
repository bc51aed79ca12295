"""Configuration from the environment; every service reads the same names."""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

ROOT = Path(__file__).resolve().parent.parent


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="", extra="ignore", case_sensitive=False)

    nats_url: str = "nats://127.0.0.1:4222"
    nats_replicas: int = Field(default=1, description="3 in a cluster; 1 for a single dev server.")
    database_url: str = "postgresql://postgres@127.0.0.1:5432/postgres"
    smtp_host: str = "127.0.0.1"
    smtp_port: int = 1025
    smtp_from: str = "antibully@localhost"
    smtp_timeout_s: float = 10.0

    intake_host: str = "127.0.0.1"
    intake_port: int = 8080
    notify_host: str = "127.0.0.1"
    notify_port: int = 8082
    public_base_url: str = Field(default="http://127.0.0.1:8082",
                                 description="Where readers open acknowledgement links (notify's HTTP edge).")
    link_key: str = Field(default="", description="Base64 of ≥32 bytes; signs acknowledgement links.")
    link_ttl_s: int = Field(default=7 * 24 * 3600, description="How long an acknowledgement link stays valid.")
    archive_host: str = "127.0.0.1"
    archive_port: int = 8081
    max_body_bytes: int = 256 * 1024
    publish_timeout_s: float = 2.0
    retry_after_s: int = 5
    rate_limit_per_s: float = Field(default=20.0, description="Sustained requests per second per API key.")
    rate_limit_burst: int = 200
    access_code_rate_per_s: float = Field(default=0.5, description="Help requests per second per access code.")
    access_code_burst: int = 20

    max_deliver: int = Field(default=8, description="Deliveries of one message before it is dead-lettered.")
    ack_wait_s: float = Field(default=30.0, description="Redelivery after a consumer died holding a message.")
    directory_file: Path = ROOT / "deploy" / "directory.toml"
    policy_file: Path = ROOT / "deploy" / "policy" / "default.toml"
    watchdog_interval_s: float = Field(default=5.0, description="How often escalation looks for missed deadlines.")
    archive_data_key: str = Field(default="", description="Base64 of 32 bytes; AES-GCM key for personal data at rest.")
    intake_data_key: str = Field(default="", description="Base64 of 32 bytes; seals help-request messages in intake.")
    pseudonym_key: str = Field(default="", description="Base64 of ≥32 bytes; keys students' pseudonyms in escalation.")
    archive_token_ttl_s: int = Field(default=15 * 60, ge=1, description="How long an official's bearer token lasts.")
    archive_login_max_failures: int = Field(default=5, ge=1, description="Failed logins in a row before a lock.")
    archive_login_lock_s: int = Field(default=15 * 60, ge=1, description="How long a login name stays locked.")
    metrics_port: int = 0


@lru_cache
def get_settings() -> Settings:
    return Settings()
