"""Who may read and who may act on the HTTP API: API keys with roles, the audit log of
actions, and the limit on failed authentication (docs/security.md, "API keys and roles").

A key is ``qk_<id>_<secret>``: ``id`` (8 hex digits) is public — it names the key in lists,
audit entries and revocations — and ``secret`` is 32 random bytes. Only the SHA-256 of the
secret is stored. A fast hash is enough here: the secret is 256 random bits, not a password a
person chose, so there is no dictionary to try and no brute force a slow hash would slow
down; a slow hash (scrypt, pbkdf2) would only cost every request tens of milliseconds.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
import sqlite3
import threading
import time
from collections import deque
from collections.abc import Callable, Iterator
from contextlib import closing, contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from enum import IntEnum
from pathlib import Path

KEY_PREFIX = "qk"
KEYS_FILE = "api-keys.sqlite3"
# Ten wrong keys a minute from one address, then that address waits: a person who mistyped a
# key retries a few times; a script guessing keys is held to 10 a minute, and with 2**256
# secrets it gets nowhere.
FAILED_AUTH_LIMIT = 10
FAILED_AUTH_WINDOW_S = 60.0


class Role(IntEnum):
    """Ordered: each role may do what the ones below it may."""

    VIEWER = 1  # reads: stations, readings, incidents, silences
    OPERATOR = 2  # acts: acknowledges incidents, adds and ends silences
    ADMIN = 3  # reads the audit log

    @classmethod
    def parse(cls, text: str) -> Role:
        try:
            return cls[text.strip().upper()]
        except KeyError:
            choices = ", ".join(r.name.lower() for r in cls)
            raise ValueError(f"unknown role {text!r}: one of {choices}") from None

    @property
    def label(self) -> str:
        return self.name.lower()


@dataclass(frozen=True)
class Principal:
    """Who a request comes from: a key (its id and name), or nobody when reads are open."""

    key_id: str
    name: str
    role: Role | None  # None: no key, reads left open by the site

    @property
    def who(self) -> str:
        return f"{self.name} ({self.key_id})" if self.key_id else self.name


ANONYMOUS = Principal("", "anonymous", None)


@dataclass(frozen=True)
class ApiKey:
    id: str
    name: str
    role: Role
    created_at: datetime
    revoked_at: datetime | None = None


@dataclass(frozen=True)
class AuditEntry:
    at: datetime
    who: str  # key name and id, or "cli:<user>" for key management at the console
    action: str  # e.g. incident.ack, silence.create, key.revoke
    target: str
    client: str  # the client's address, "local" for the console
    status: int  # the HTTP status answered; 0 for the console


def secret_hash(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


def split_key(key: str) -> tuple[str, str] | None:
    """``qk_<id>_<secret>`` → (id, secret); anything else → None."""
    prefix, _, rest = key.strip().partition("_")
    key_id, _, secret = rest.partition("_")
    if prefix != KEY_PREFIX or len(key_id) != 8 or not secret:
        return None
    return key_id, secret


_SCHEMA = """
CREATE TABLE IF NOT EXISTS api_keys (
    id TEXT PRIMARY KEY,
    name TEXT NOT NULL,
    role TEXT NOT NULL,
    secret_sha256 TEXT NOT NULL,
    created_at TEXT NOT NULL,
    revoked_at TEXT
);
CREATE TABLE IF NOT EXISTS audit (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    at TEXT NOT NULL,
    who TEXT NOT NULL,
    action TEXT NOT NULL,
    target TEXT NOT NULL,
    client TEXT NOT NULL,
    status INTEGER NOT NULL
);
"""


class KeyStore:
    """Keys and the audit log in one SQLite file under the data directory. Each call opens
    the file: a key made or revoked at the console counts at once in a running API."""

    def __init__(self, path: Path) -> None:
        self.path = path
        path.parent.mkdir(parents=True, exist_ok=True)
        with self._db() as db:
            db.executescript(_SCHEMA)
        path.chmod(0o600)  # hashes only, but nobody else's business

    @contextmanager
    def _db(self) -> Iterator[sqlite3.Connection]:
        with closing(sqlite3.connect(self.path, timeout=10)) as db, db:
            yield db

    def create(self, name: str, role: Role, now: datetime) -> tuple[ApiKey, str]:
        """A new key and its full text, which is shown once and never stored."""
        if not name.strip():
            raise ValueError("give the key a name: who or what uses it")
        with self._db() as db:
            while True:
                key_id = secrets.token_hex(4)
                if db.execute("SELECT 1 FROM api_keys WHERE id = ?", (key_id,)).fetchone():
                    continue
                secret = secrets.token_urlsafe(32)
                db.execute(
                    "INSERT INTO api_keys VALUES (?, ?, ?, ?, ?, NULL)",
                    (key_id, name, role.label, secret_hash(secret), now.isoformat()),
                )
                break
        return ApiKey(key_id, name, role, now), f"{KEY_PREFIX}_{key_id}_{secret}"

    def list_keys(self) -> list[ApiKey]:
        with self._db() as db:
            rows = db.execute(
                "SELECT id, name, role, created_at, revoked_at FROM api_keys ORDER BY created_at"
            ).fetchall()
        return [
            ApiKey(
                key_id,
                name,
                Role.parse(role),
                datetime.fromisoformat(created),
                datetime.fromisoformat(revoked) if revoked else None,
            )
            for key_id, name, role, created, revoked in rows
        ]

    def revoke(self, key_id: str, now: datetime) -> ApiKey:
        """Revoke a key (kept, with its time of revocation; revoking twice keeps the first)."""
        with self._db() as db:
            db.execute(
                "UPDATE api_keys SET revoked_at = ? WHERE id = ? AND revoked_at IS NULL",
                (now.isoformat(), key_id),
            )
        found = next((k for k in self.list_keys() if k.id == key_id), None)
        if found is None:
            raise KeyError(key_id)
        return found

    def authenticate(self, key: str) -> Principal | None:
        """The key's principal, or None for a key unknown, wrong or revoked."""
        parts = split_key(key)
        if parts is None:
            return None
        key_id, secret = parts
        with self._db() as db:
            row = db.execute(
                "SELECT name, role, secret_sha256 FROM api_keys "
                "WHERE id = ? AND revoked_at IS NULL",
                (key_id,),
            ).fetchone()
        if row is None:
            return None
        name, role, stored = row
        if not hmac.compare_digest(stored, secret_hash(secret)):
            return None
        return Principal(key_id, name, Role.parse(role))

    def record(self, entry: AuditEntry) -> None:
        with self._db() as db:
            db.execute(
                "INSERT INTO audit (at, who, action, target, client, status) "
                "VALUES (?, ?, ?, ?, ?, ?)",
                (entry.at.isoformat(), entry.who, entry.action, entry.target, entry.client,
                 entry.status),
            )  # fmt: skip

    def audit(self, limit: int = 100) -> list[AuditEntry]:
        """The newest entries first."""
        with self._db() as db:
            rows = db.execute(
                "SELECT at, who, action, target, client, status FROM audit "
                "ORDER BY seq DESC LIMIT ?",
                (limit,),
            ).fetchall()
        return [
            AuditEntry(datetime.fromisoformat(at), who, action, target, client, status)
            for at, who, action, target, client, status in rows
        ]


class FailureLimiter:
    """Failed authentications per client address in a sliding window: at ``limit`` failures
    within ``window_s`` the address is refused until the oldest of them leaves the window.
    Pure: the caller gives the time (monotonic seconds)."""

    def __init__(
        self, limit: int = FAILED_AUTH_LIMIT, window_s: float = FAILED_AUTH_WINDOW_S
    ) -> None:
        self.limit = limit
        self.window_s = window_s
        self._failures: dict[str, deque[float]] = {}
        self._lock = threading.Lock()

    def _recent(self, client: str, now: float) -> deque[float]:
        failures = self._failures.get(client, deque())
        while failures and failures[0] <= now - self.window_s:
            failures.popleft()
        if not failures:
            self._failures.pop(client, None)
        return failures

    def retry_after(self, client: str, now: float) -> float:
        """Seconds the client must wait before trying a key again; 0 when it may."""
        with self._lock:
            failures = self._recent(client, now)
            if len(failures) < self.limit:
                return 0.0
            return failures[-self.limit] + self.window_s - now

    def failed(self, client: str, now: float) -> None:
        with self._lock:
            failures = self._recent(client, now)
            failures.append(now)
            self._failures[client] = failures


@dataclass
class ApiSecurity:
    """How the API decides: the key store (None: no keys, so nothing but /health and the
    docs answer, unless reads are open), whether reads are open without a key, the origins
    a browser may call from (none: no CORS headers at all)."""

    keys: KeyStore | None = None
    open_reads: bool = False
    cors_origins: list[str] = field(default_factory=list)
    limiter: FailureLimiter = field(default_factory=FailureLimiter)
    clock: Callable[[], float] = time.monotonic  # the limiter's time; a test's own clock


def now_utc() -> datetime:
    return datetime.now(UTC)
