"""InfluxDB store: line-protocol writes (v1 ``/write`` or v2 through influxdb-client), InfluxQL
reads on ``/query``, which InfluxDB 1.x, 2.x (v1-compatibility endpoint) and 3.x all accept.

- v1 mode (``InfluxStore.v1``): ``POST /write?db=…&precision=ms``, gzip, user/password. For
  InfluxDB 1.x, and 1.8+ which also has the v2 API.
- v2 mode (``InfluxStore.v2``): influxdb-client's write API (token, org, bucket, gzip), for
  InfluxDB 2.x/3.x; VictoriaMetrics takes the same writes (``collector.store.victoria``).

Batching: the collector hands over one flush at a time; the store sends it in requests of
``batch_points`` lines, synchronously. influxdb-client's batching mode is not used on purpose:
it writes from a background thread and reports failures to a callback, after ``write`` has
returned — the collector could then acknowledge readings that were never stored. Retries:
a few quick ones with exponential backoff inside each request (urllib3); a longer outage is
the caller's (the collector retries a flush; ``collector.forward`` queues on disk).
"""

from __future__ import annotations

import base64
import gzip
import json
import math
from collections.abc import Mapping, Set
from datetime import datetime, timedelta
from typing import Any
from urllib.parse import urlencode

import urllib3
from urllib3.util import Retry

from collector.schema import MEASUREMENT, StationInfo
from collector.store import (
    DERIVED_PARAMS,
    StoreError,
    StoreRejected,
    StoreUnavailable,
)
from collector.store.lines import UNIT_TAG, LineRenderer, LineWrites, epoch_ms, from_epoch_ms
from gateway.model import DeviceStatus, Quality, Reading

# The store refused the data itself; any other failure (5xx, 401/403, 404 "database not
# found", 429) is the server's or the configuration's, and the data is kept for a retry.
REJECTED_STATUSES = frozenset({400, 413, 422})
_RETRY_STATUSES = (429, 500, 502, 503, 504)
# WritePrecision.MS is the string "ms"; the client's annotations name the class instead.
_MS_PRECISION: Any = "ms"


def retry_policy(retries: int) -> Retry:
    """Quick retries of one request: 0.5 s, 1 s, 2 s … (capped at 8 s), any method (writes
    are idempotent: a point written twice is one point)."""
    return Retry(
        total=retries,
        backoff_factor=0.5,
        backoff_max=8.0,
        status_forcelist=_RETRY_STATUSES,
        allowed_methods=None,
        raise_on_status=False,
        raise_on_redirect=False,
    )


def translate_status(
    url: str, status: int, body: bytes, what: str = "the data"
) -> StoreError | None:
    """The error an HTTP answer means, or None when it is a success."""
    if 200 <= status < 300:
        return None
    text = body.decode("utf-8", "replace").strip()[:500] or "(no body)"
    if status in REJECTED_STATUSES:
        return StoreRejected(f"{url} refused {what} (HTTP {status}): {text}")
    return StoreUnavailable(f"{url} answered HTTP {status}: {text}")


class HttpEndpoint:
    """One HTTP server, errors translated: ``StoreUnavailable`` or ``StoreRejected``."""

    def __init__(
        self,
        url: str,
        *,
        headers: Mapping[str, str] | None = None,
        timeout_s: float = 10.0,
        retries: int = 3,
    ) -> None:
        self.url = url.rstrip("/")
        self.headers = dict(headers or {})
        self._pool = urllib3.PoolManager(
            retries=retry_policy(retries),
            timeout=urllib3.Timeout(connect=min(timeout_s, 5.0), read=timeout_s),
            maxsize=4,
        )

    def request(
        self,
        method: str,
        path: str,
        *,
        query: Mapping[str, str] | None = None,
        body: bytes | None = None,
        headers: Mapping[str, str] | None = None,
    ) -> bytes:
        """The answer's body; a POST carries data, anything else is a query."""
        target = f"{self.url}{path}"
        if query:
            target += "?" + urlencode(query)
        try:
            response = self._pool.request(
                method, target, body=body, headers={**self.headers, **(headers or {})}
            )
        except urllib3.exceptions.HTTPError as exc:
            raise StoreUnavailable(f"{self.url} unreachable: {_reason(exc)}") from exc
        what = "the data" if method == "POST" else f"the query {path}"
        error = translate_status(self.url, response.status, response.data, what)
        if error is not None:
            raise error
        return response.data

    def close(self) -> None:
        self._pool.clear()


def _reason(exc: BaseException) -> str:
    # MaxRetryError hides the useful part ("Connection refused") in .reason.
    reason = getattr(exc, "reason", None)
    return str(reason if isinstance(reason, BaseException) else exc)


class V1Writer:
    """``POST /write`` of InfluxDB 1.x: database, optional retention policy, user/password."""

    def __init__(self, endpoint: HttpEndpoint, database: str, retention_policy: str | None) -> None:
        self.endpoint = endpoint
        self.query = {"db": database, "precision": "ms"}
        if retention_policy:
            self.query["rp"] = retention_policy

    def write(self, body: str) -> None:
        self.endpoint.request(
            "POST",
            "/write",
            query=self.query,
            body=gzip.compress(body.encode(), compresslevel=1),
            headers={"Content-Encoding": "gzip", "Content-Type": "text/plain; charset=utf-8"},
        )

    def close(self) -> None:
        pass


class V2Writer:
    """influxdb-client's write API, synchronous: InfluxDB 2.x/3.x, 1.8+, VictoriaMetrics."""

    def __init__(
        self,
        url: str,
        *,
        org: str,
        bucket: str,
        token: str,
        timeout_s: float = 10.0,
        retries: int = 3,
    ) -> None:
        from influxdb_client.client.influxdb_client import InfluxDBClient
        from influxdb_client.client.write_api import SYNCHRONOUS

        self.url = url.rstrip("/")
        self.org = org
        self.bucket = bucket
        # A plain urllib3 Retry, not influxdb-client's WritesRetry: that one fixes its
        # deadline when it is created, so shared by a long-lived client it stops retrying.
        self._client = InfluxDBClient(
            url=self.url,
            token=token,
            org=org,
            enable_gzip=True,
            timeout=int(timeout_s * 1000),
            retries=retry_policy(retries),
        )
        self._write_api = self._client.write_api(write_options=SYNCHRONOUS)

    def write(self, body: str) -> None:
        from influxdb_client.rest import ApiException

        try:
            self._write_api.write(
                bucket=self.bucket, org=self.org, record=body, write_precision=_MS_PRECISION
            )
        except ApiException as exc:
            raw: object = exc.body
            answer = raw if isinstance(raw, bytes) else str(raw or "").encode()
            error = translate_status(self.url, int(exc.status or 0), answer)
            raise (error or StoreUnavailable(f"{self.url}: {exc}")) from exc
        except (urllib3.exceptions.HTTPError, OSError) as exc:
            raise StoreUnavailable(f"{self.url} unreachable: {_reason(exc)}") from exc

    def close(self) -> None:
        self._client.close()  # type: ignore[no-untyped-call]


def influxql_string(text: str) -> str:
    """A single-quoted InfluxQL string literal."""
    return "'" + text.replace("\\", "\\\\").replace("'", "\\'") + "'"


def _ident(name: str) -> str:
    return '"' + name.replace("\\", "\\\\").replace('"', '\\"') + '"'


class InfluxStore(LineWrites):
    """InfluxDB through line protocol and InfluxQL. Build it with ``v1`` or ``v2``."""

    keeps_reason = True
    replaces_points = True

    def __init__(
        self,
        writer: V1Writer | V2Writer,
        reader: HttpEndpoint,
        database: str,
        *,
        stations: Mapping[str, StationInfo] | None = None,
        derived_params: Set[str] = DERIVED_PARAMS,
        batch_points: int = 5_000,
    ) -> None:
        self.writer = writer
        self.reader = reader
        self.database = database
        self.batch_points = batch_points
        self._renderer = LineRenderer(stations, derived_params)

    @classmethod
    def v1(
        cls,
        url: str,
        database: str,
        *,
        username: str | None = None,
        password: str | None = None,
        retention_policy: str | None = None,
        stations: Mapping[str, StationInfo] | None = None,
        derived_params: Set[str] = DERIVED_PARAMS,
        batch_points: int = 5_000,
        timeout_s: float = 10.0,
        retries: int = 3,
    ) -> InfluxStore:
        headers = {}
        if username is not None:
            basic = base64.b64encode(f"{username}:{password or ''}".encode()).decode()
            headers["Authorization"] = f"Basic {basic}"
        endpoint = HttpEndpoint(url, headers=headers, timeout_s=timeout_s, retries=retries)
        return cls(
            V1Writer(endpoint, database, retention_policy),
            endpoint,
            database,
            stations=stations,
            derived_params=derived_params,
            batch_points=batch_points,
        )

    @classmethod
    def v2(
        cls,
        url: str,
        *,
        org: str,
        bucket: str,
        token: str,
        database: str | None = None,
        stations: Mapping[str, StationInfo] | None = None,
        derived_params: Set[str] = DERIVED_PARAMS,
        batch_points: int = 5_000,
        timeout_s: float = 10.0,
        retries: int = 3,
    ) -> InfluxStore:
        """``database`` is what InfluxQL reads name: InfluxDB 3.x's database is the bucket;
        2.x needs a DBRP mapping of that name to the bucket (docs/storage.md)."""
        writer = V2Writer(
            url, org=org, bucket=bucket, token=token, timeout_s=timeout_s, retries=retries
        )
        reader = HttpEndpoint(
            url, headers={"Authorization": f"Token {token}"}, timeout_s=timeout_s, retries=retries
        )
        return cls(
            writer,
            reader,
            database or bucket,
            stations=stations,
            derived_params=derived_params,
            batch_points=batch_points,
        )

    @property
    def url(self) -> str:
        return self.reader.url

    # -- reads

    def query(self, q: str) -> list[dict[str, Any]]:
        """The series of the first statement's result (``epoch=ms`` times)."""
        data = self.reader.request(
            "GET", "/query", query={"db": self.database, "q": q, "epoch": "ms"}
        )
        try:
            answer = json.loads(data)
        except ValueError as exc:
            raise StoreUnavailable(f"{self.url}: the /query answer is not JSON: {exc}") from exc
        if "error" in answer:
            raise StoreRejected(f"{self.url} refused the query {q!r}: {answer['error']}")
        result = answer.get("results", [{}])[0]
        if "error" in result:
            raise StoreRejected(f"{self.url} refused the query {q!r}: {result['error']}")
        series: list[dict[str, Any]] = result.get("series", [])
        return series

    def _readings(
        self, station: str, param: str | None, series: Mapping[str, Any]
    ) -> list[Reading]:
        columns = series["columns"]
        tags = series.get("tags") or {}
        out = []
        for row in series["values"]:
            point = {**tags, **dict(zip(columns, row, strict=True))}
            value = point.get("value")
            out.append(
                Reading(
                    station=station,
                    param=param or point["param"],
                    value=math.nan if value is None else float(value),
                    unit=point.get(UNIT_TAG) or "",
                    ts=from_epoch_ms(int(point["time"])),
                    status=DeviceStatus(int(point.get("status") or 0)),
                    quality=Quality(int(point.get("quality") or 0)),
                    reason=point.get("reason") or "",
                )
            )
        return out

    def latest(self, station: str) -> list[Reading]:
        series = self.query(
            f'SELECT * FROM {_ident(MEASUREMENT)} WHERE "station" = {influxql_string(station)}'
            ' GROUP BY "param" ORDER BY time DESC LIMIT 1'
        )
        found = [r for s in series for r in self._readings(station, None, s)]
        return sorted(found, key=lambda r: r.param)

    def range(
        self,
        station: str,
        param: str,
        start: datetime,
        end: datetime,
        *,
        every: timedelta | None = None,
        limit: int = 10_000,
    ) -> list[Reading]:
        where = (
            f'WHERE "station" = {influxql_string(station)} AND "param" = {influxql_string(param)}'
            f" AND time >= {epoch_ms(start)}ms AND time < {epoch_ms(end)}ms"
        )
        if every is None:
            q = (
                f'SELECT "value", "quality", "status", "reason", "{UNIT_TAG}"'
                f" FROM {_ident(MEASUREMENT)} {where} ORDER BY time ASC LIMIT {int(limit)}"
            )
        else:
            every_ms = every // timedelta(milliseconds=1)
            if every_ms <= 0:
                raise ValueError(f"aggregation window {every} is shorter than a millisecond")
            # "value" < 0 OR >= 0: the points that have a value (a NaN point has none), so a
            # value-less point's quality does not count; constants only, for 1.x and 3.x alike.
            q = (
                'SELECT mean("value") AS "value", max("quality") AS "quality",'
                f' max("status") AS "status" FROM {_ident(MEASUREMENT)} {where}'
                f' AND "quality" <> {int(Quality.BAD)} AND ("value" < 0 OR "value" >= 0)'
                f' GROUP BY time({every_ms}ms), "{UNIT_TAG}" fill(none) LIMIT {int(limit)}'
            )
        found = [r for s in self.query(q) for r in self._readings(station, param, s)]
        found.sort(key=lambda r: r.ts)  # stable: several series (a unit changed) interleave
        # Equal timestamps in two series of one (station, param): keep one, the later listed.
        unique: list[Reading] = []
        for reading in found:
            if unique and unique[-1].ts == reading.ts:
                unique[-1] = reading
            else:
                unique.append(reading)
        return unique[:limit]

    def stations(self) -> list[str]:
        series = self.query(f'SHOW TAG VALUES FROM {_ident(MEASUREMENT)} WITH KEY = "station"')
        return sorted({row[1] for s in series for row in s["values"]})

    def close(self) -> None:
        self.writer.close()
        self.reader.close()
