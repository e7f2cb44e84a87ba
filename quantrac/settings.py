"""Settings of the services: one pydantic-settings class, built by a cached function."""

from __future__ import annotations

from functools import cache
from pathlib import Path

from pydantic import SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict

from quantrac.auth import KEYS_FILE


class Settings(BaseSettings):
    """Environment variables ``QUANTRAC_*``; command-line options override them."""

    model_config = SettingsConfigDict(env_prefix="QUANTRAC_", env_file=".env", extra="ignore")

    data_dir: Path = Path("data")
    broker_url: str = "mqtt://127.0.0.1:1883"
    mqtt_username: str | None = None
    mqtt_password: SecretStr | None = None
    mqtt_ca_file: Path | None = None
    api_host: str = "127.0.0.1"
    api_port: int = 8000
    # Where readings are stored (docs/storage.md): a SQLite path or sqlite:///, influxdb://,
    # influxdb2://, victoriametrics:// URL. Default: SQLite under the data directory.
    store_url: str | None = None
    # The API (docs/security.md): reads without a key only when the site says so — a closed
    # IOC network — never by default; the origins a browser may call it from, comma-separated
    # (none: no CORS headers at all).
    api_open_reads: bool = False
    api_cors_origins: str = ""

    @property
    def sqlite_path(self) -> Path:
        return self.data_dir / "quantrac.sqlite3"

    @property
    def store(self) -> str:
        return self.store_url or str(self.sqlite_path)

    @property
    def api_keys_path(self) -> Path:
        """API keys (their hashes only) and the audit log of actions."""
        return self.data_dir / KEYS_FILE

    @property
    def cors_origins(self) -> list[str]:
        return [o.strip() for o in self.api_cors_origins.split(",") if o.strip()]

    @property
    def forward_queue_path(self) -> Path:
        """The durable queue in front of a remote store (InfluxDB, VictoriaMetrics)."""
        return self.data_dir / "forward-queue.sqlite3"

    @property
    def recent_copy_path(self) -> Path:
        """The collector's local copy of the recent days when it stores remotely: what its
        derived series read, so they never wait on the remote store."""
        return self.data_dir / "recent.sqlite3"


@cache
def get_settings() -> Settings:
    return Settings()
