"""Settings of the services: one pydantic-settings class, built by a cached function."""

from __future__ import annotations

from functools import cache
from pathlib import Path

from pydantic import SecretStr, model_validator
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
    # A client certificate, for a broker that asks for one (docs/security.md, "TLS").
    mqtt_cert_file: Path | None = None
    mqtt_key_file: Path | None = None
    api_host: str = "127.0.0.1"
    api_port: int = 8000
    # Where readings are stored (docs/storage.md): a SQLite path or sqlite:///, influxdb://,
    # influxdb2://, victoriametrics:// URL. Default: SQLite under the data directory.
    store_url: str | None = None
    # Secrets from files (Docker/systemd credentials), so none is on a command line where `ps`
    # shows it (issue 13): QUANTRAC_MQTT_PASSWORD_FILE=/run/secrets/mqtt and so on. The
    # variable itself wins over its file.
    broker_url_file: Path | None = None
    mqtt_password_file: Path | None = None
    store_url_file: Path | None = None

    @model_validator(mode="after")
    def _secrets_from_files(self) -> Settings:
        if self.broker_url_file and "broker_url" not in self.model_fields_set:
            self.broker_url = read_secret_file(self.broker_url_file)
        if self.mqtt_password_file and self.mqtt_password is None:
            self.mqtt_password = SecretStr(read_secret_file(self.mqtt_password_file))
        if self.store_url_file and self.store_url is None:
            self.store_url = read_secret_file(self.store_url_file)
        return self

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


class SecretFileError(Exception):
    """A ``*_FILE`` secret could not be read. Not a ValueError on purpose: pydantic would wrap
    it in a validation error that quotes the settings' values, secrets included."""


def read_secret_file(path: Path) -> str:
    """A secret kept in a file: its text without the final newline editors add."""
    try:
        return path.read_text(encoding="utf-8").rstrip("\r\n")
    except OSError as exc:  # the message names the file, never its content
        raise SecretFileError(f"cannot read the secret file {path}: {exc.strerror}") from None


@cache
def get_settings() -> Settings:
    return Settings()
