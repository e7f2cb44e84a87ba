"""Grafana annotations, through grafana-client: incidents drawn on the boards officers watch.

A firing notification adds an annotation at its time (``POST /api/annotations``), tagged so
that a dashboard's annotation query can pick it by kind, station, level or severity; the
resolved notification of the same incident sets its end (``PATCH /api/annotations/{id}`` with
``timeEnd``), which turns the mark into a region covering the incident. An escalation or
de-escalation adds a mark of its own; a repeat adds nothing.

The annotation id is kept per incident in memory and, for a restart, found again in Grafana by
the tags ``incident:<id>`` and ``state:firing`` that the first annotation carries.

grafana-client 3.x (on requests) is synchronous: each notification's requests run in a worker
thread, one notification at a time (a lock), so a firing and its resolution never race. Not 4.x
or 5.x: they moved to niquests, whose urllib3-future replaces the ``urllib3`` package of the
whole environment at interpreter start, under influxdb-client and everything else.
"""

from __future__ import annotations

import asyncio
import json
import threading
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any
from urllib.parse import quote, urlsplit

from grafana_client import GrafanaApi
from grafana_client.client import GrafanaException
from pydantic import Field, SecretStr, model_validator

from alerting.model import Delivery, DeliveryStatus, Notification, NotificationState, Recipient
from alerting.notifiers.base import (
    ChannelConfig,
    DeliveryRunner,
    EnvName,
    HttpUrl,
    NotifierContext,
    Outcome,
    loggable_url,
    read_secret,
    short,
    status_of,
)


class GrafanaConfig(ChannelConfig):
    """Grafana's URL and one way in: a service account token, or a user and password."""

    url: HttpUrl  # http://grafana:3000, or with its sub-path: https://ioc.example.vn/grafana
    token_env: EnvName | None = None  # a service account token (Editor role suffices)
    user: str | None = None
    password_env: EnvName | None = None
    org_id: int | None = Field(default=None, ge=1)
    dashboard_uid: str | None = None  # None: organisation-wide annotations, queried by tag
    panel_id: int | None = None
    tags: list[str] = Field(default_factory=lambda: ["quantrac"])  # added to every annotation

    @model_validator(mode="after")
    def _check(self) -> GrafanaConfig:
        if (self.token_env is None) == (self.user is None):
            raise ValueError("give token_env, or user and password_env (one of the two)")
        if self.user is not None and self.password_env is None:
            raise ValueError("user needs password_env")
        return self


def epoch_ms(when: datetime) -> int:
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return int(when.timestamp() * 1000)


def annotation_tags(notification: Notification, extra: Sequence[str] = ()) -> list[str]:
    """``kind:flood``, ``severity:critical``, ``level:2``, ``station:…``, ``district:…``,
    ``incident:…``, ``state:…``, and the configured ones; each once, in this order."""
    tags = [
        *extra,
        f"kind:{notification.kind.value}",
        f"severity:{notification.severity.name.lower()}",
        f"level:{notification.level}",
        *(f"station:{station}" for station in notification.stations),
        *([f"district:{notification.district}"] if notification.district else []),
        *(f"incident:{incident}" for incident in notification.incidents),
        f"state:{notification.state.value}",
    ]
    return list(dict.fromkeys(tags))


def _outcome(channel: str, recipient: str, exc: Exception) -> Outcome:
    if isinstance(exc, GrafanaException):  # the client raises it for every HTTP status >= 400
        code = int(exc.status_code or 0)
        status = status_of(code) if code else DeliveryStatus.RETRY
        return Outcome(Delivery(channel, recipient, status, short(f"HTTP {code}: {exc.message}")))
    # requests' ConnectionError and Timeout pass through the client untranslated; both are
    # OSErrors (requests.RequestException derives from IOError): worth another try.
    status = DeliveryStatus.RETRY if isinstance(exc, OSError) else DeliveryStatus.FAILED
    return Outcome(Delivery(channel, recipient, status, short(f"{type(exc).__name__}: {exc}")))


class GrafanaNotifier:
    """Annotations for the notifications: one Delivery, for the Grafana endpoint."""

    channel: str = "grafana"

    def __init__(
        self, config: GrafanaConfig, credential: str | tuple[str, str], runner: DeliveryRunner
    ) -> None:
        self.config = config
        self._runner = runner
        self.recipient = loggable_url(config.url)
        parts = urlsplit(config.url)
        prefix = parts.path.strip("/")
        # grafana-client is untyped: this module is the boundary that types it.
        self._api: Any = GrafanaApi(
            credential,
            host=parts.hostname,
            port=parts.port,
            # the client builds "{protocol}://{host}:{port}/{prefix}api": a prefix needs its "/"
            url_path_prefix=f"{prefix}/" if prefix else "",
            protocol=parts.scheme,
            timeout=config.timeout_s,
            organization_id=config.org_id,
        )
        # incident → its firing annotation's id and tags
        self.annotations: dict[str, tuple[int, list[str]]] = {}
        self._serial = threading.Lock()

    @classmethod
    def from_config(cls, config: GrafanaConfig, context: NotifierContext) -> GrafanaNotifier:
        credential: str | tuple[str, str]
        if config.token_env is not None:
            token = read_secret("grafana", "token_env", config.token_env, context.environ)
            credential = token.get_secret_value()
        else:
            assert config.user is not None  # the validator requires both
            assert config.password_env is not None
            password: SecretStr = read_secret(
                "grafana", "password_env", config.password_env, context.environ
            )
            credential = (config.user, password.get_secret_value())
        return cls(config, credential, DeliveryRunner.of(cls.channel, config, context))

    async def __aenter__(self) -> GrafanaNotifier:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        self._api.client.s.close()  # the client's requests.Session

    async def send(
        self, notification: Notification, recipients: Sequence[Recipient] = ()
    ) -> list[Delivery]:
        async def attempt() -> Outcome:
            try:
                return await asyncio.to_thread(self._annotate, notification)
            except Exception as exc:  # the client's errors, translated at the boundary
                return _outcome(self.channel, self.recipient, exc)

        return [await self._runner.deliver(notification, self.recipient, attempt, name="grafana")]

    def _sent(self, detail: str, provider_id: str = "") -> Outcome:
        return Outcome(
            Delivery(self.channel, self.recipient, DeliveryStatus.SENT, detail, provider_id)
        )

    def _annotate(self, notification: Notification) -> Outcome:
        """In a worker thread; one notification at a time."""
        with self._serial:
            if notification.state is NotificationState.REPEAT:
                return self._sent("repeat: annotations unchanged")
            if notification.state is NotificationState.RESOLVED:
                return self._end(notification)
            return self._add(notification, epoch_ms(notification.created_at))

    def _add(self, notification: Notification, time_ms: int) -> Outcome:
        tags = annotation_tags(notification, self.config.tags)
        reply = self._api.annotations.add_annotation(
            dashboard_uid=self.config.dashboard_uid,
            panel_id=self.config.panel_id,
            time_from=time_ms,
            tags=tags,
            text=f"{notification.title}\n{notification.text}",
        )
        annotation_id = int(reply["id"])
        if notification.state is NotificationState.FIRING:
            for incident in notification.incidents:
                self.annotations.setdefault(incident, (annotation_id, tags))
        answer = json.dumps(reply, ensure_ascii=False)
        return self._sent(short(f"annotation {annotation_id}: {answer}"), str(annotation_id))

    def _end(self, notification: Notification) -> Outcome:
        end_ms = epoch_ms(notification.created_at)
        ended: list[int] = []
        for incident in notification.incidents:
            found = self._find(incident)
            if found is None or found[0] in ended:
                continue
            annotation_id, tags = found
            # grafana-client sends "tags": [] when none are given, and Grafana reads an empty
            # list as "remove the tags": the annotation's own tags go back with the end time.
            self._api.annotations.partial_update_annotation(
                annotation_id, time_to=end_ms, tags=tags
            )
            ended.append(annotation_id)
            self.annotations.pop(incident, None)
        if not ended:
            # Nothing to end (it fired before Grafana was configured): mark the recovery.
            return self._add(notification, end_ms)
        ids = ", ".join(map(str, ended))
        return self._sent(f"ended annotation(s) {ids}", ids)

    def _find(self, incident: str) -> tuple[int, list[str]] | None:
        """The incident's firing annotation, id and tags: from memory, or (after a restart)
        from Grafana by its tags."""
        known = self.annotations.get(incident)
        if known is not None:
            return known
        # grafana-client puts tags in the query string as given: quoted here, so an incident
        # id with "&" or "#" in it cannot cut the query short.
        annotations = self._api.annotations
        # find_annotations in grafana-client 4+, get_annotation before
        find = getattr(annotations, "find_annotations", None) or annotations.get_annotation
        found = find(
            tags=[quote(f"incident:{incident}", safe=""), quote("state:firing", safe="")],
            ann_type="annotation",
        )
        candidates = [item for item in found or [] if isinstance(item, dict) and "id" in item]
        if not candidates:
            return None
        first = min(candidates, key=lambda item: int(item.get("time", 0)))
        return int(first["id"]), [str(t) for t in first.get("tags", [])]
