"""Settings of the services: one pydantic-settings class, built by a cached function."""

from __future__ import annotations

from functools import cache
from pathlib import Path

from pydantic import SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict


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

    @property
    def sqlite_path(self) -> Path:
        return self.data_dir / "quantrac.sqlite3"

    @property
    def store(self) -> str:
        return self.store_url or str(self.sqlite_path)

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
