"""VictoriaMetrics store: InfluxDB line protocol in (v2 write API, through influxdb-client),
``/api/v1/export`` out.

VictoriaMetrics turns each field of a line into a metric named ``{measurement}_{field}`` with
the tags as labels: ``reading_value``, ``reading_quality``, ``reading_status``
{station, param, kind, district, unit, derived}. It keeps numbers only, so the reason code is
not written (``keeps_reason = False``). It keeps every sample it is sent, including two with
the same timestamp, in no defined order (``replaces_points = False``): reads collapse equal
timestamps into one point; a resent point (the same values) reads back as it was written.
"""

from __future__ import annotations

import json
import math
import re
import time
from collections import defaultdict
from collections.abc import Iterable, Mapping, Set
from datetime import datetime, timedelta
from typing import Any

from collector.schema import MEASUREMENT, StationInfo
from collector.store import DERIVED_PARAMS, StoreUnavailable, aggregate
from collector.store.influx import HttpEndpoint, V2Writer
from collector.store.lines import UNIT_TAG, LineRenderer, LineWrites, epoch_ms, from_epoch_ms
from gateway.model import DeviceStatus, Quality, Reading

_FIELDS = ("value", "quality", "status")
_AHEAD_S = 600


def _label(text: str) -> str:
    """A double-quoted MetricsQL label value."""
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n") + '"'


def _seconds(ms: int) -> str:
    return f"{ms // 1000}.{ms % 1000:03d}"


class VictoriaStore(LineWrites):
    """VictoriaMetrics single node (or vminsert/vmselect behind one URL)."""

    keeps_reason = False
    replaces_points = False

    def __init__(
        self,
        url: str,
        *,
        stations: Mapping[str, StationInfo] | None = None,
        derived_params: Set[str] = DERIVED_PARAMS,
        token: str = "",
        batch_points: int = 5_000,
        timeout_s: float = 10.0,
        retries: int = 3,
        latest_lookback: timedelta = timedelta(days=31),
    ) -> None:
        self._url = url.rstrip("/")
        self.batch_points = batch_points
        self.latest_lookback = latest_lookback
        self._renderer = LineRenderer(stations, derived_params, with_reason=False)
        # VictoriaMetrics ignores org and bucket; a token matters behind vmauth only.
        self.writer = V2Writer(
            self._url,
            org="quantrac",
            bucket="quantrac",
            token=token,
            timeout_s=timeout_s,
            retries=retries,
        )
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        self.reader = HttpEndpoint(self._url, headers=headers, timeout_s=timeout_s, retries=retries)

    @property
    def url(self) -> str:
        return self._url

    def configuration_problem(self) -> str:
        """What in the server's configuration breaks the store's contract ("" if nothing).

        VictoriaMetrics keeps every sample it is sent; a point resent (the gateway's
        at-least-once delivery, a forward chunk whose answer was lost) is a second sample
        unless the server deduplicates: ``-dedup.minScrapeInterval=1ms`` keeps one sample per
        (series, millisecond) — the largest, so a re-flag to a worse quality wins.
        """
        flags = self.reader.request("GET", "/flags").decode(errors="replace")
        if "-dedup.minScrapeInterval" not in flags:
            return (
                f"{self._url} runs without -dedup.minScrapeInterval=1ms: a resent point is "
                "stored twice (docs/storage.md)"
            )
        return ""

    # -- reads

    def _selector(self, station: str, params: Iterable[str] = ()) -> str:
        names = "|".join(f"{MEASUREMENT}_{field}" for field in _FIELDS)
        selector = f'__name__=~"{names}",station={_label(station)}'
        params = sorted(params)
        if len(params) == 1:
            selector += f",param={_label(params[0])}"
        elif params:
            selector += f",param=~{_label('|'.join(re.escape(p) for p in params))}"
        return "{" + selector + "}"

    def export(self, match: str, start_ms: int, end_ms: int) -> list[dict[str, Any]]:
        """The JSON lines of ``/api/v1/export``, start and end both included."""
        data = self.reader.request(
            "GET",
            "/api/v1/export",
            query={"match[]": match, "start": _seconds(start_ms), "end": _seconds(end_ms)},
        )
        try:
            return [json.loads(line) for line in data.splitlines() if line.strip()]
        except ValueError as exc:
            raise StoreUnavailable(f"{self.url}: the export is not JSON lines: {exc}") from exc

    def _points(self, station: str, lines: Iterable[Mapping[str, Any]]) -> list[Reading]:
        """Readings from exported series, oldest first, one per (param, ts)."""
        # (param, ts) -> [value, quality, status, unit]; a later sample of an equal timestamp
        # overwrites an earlier one, which is the most VictoriaMetrics lets us say of "last".
        points: dict[tuple[str, int], list[Any]] = defaultdict(
            lambda: [math.nan, int(Quality.UNCHECKED), 0, ""]
        )
        for line in lines:
            labels = line["metric"]
            field = labels["__name__"].removeprefix(f"{MEASUREMENT}_")
            if field not in _FIELDS:
                continue
            slot = _FIELDS.index(field)
            param, unit = labels.get("param", ""), labels.get(UNIT_TAG, "")
            for ts, value in zip(line["timestamps"], line["values"], strict=True):
                point = points[(param, int(ts))]
                point[slot] = float(value) if slot == 0 else int(value)
                point[3] = unit
        return [
            Reading(
                station=station,
                param=param,
                value=value,
                unit=unit,
                ts=from_epoch_ms(ts),
                status=DeviceStatus(status),
                quality=Quality(quality),
            )
            for (param, ts), (value, quality, status, unit) in sorted(
                points.items(), key=lambda item: item[0][1]
            )
        ]

    def latest(self, station: str) -> list[Reading]:
        # Where each series last has a point: one query over the index, then one small export
        # per distinct instant (usually one: a station sends its parameters together). The
        # query is evaluated 10 min ahead: VictoriaMetrics moves a query time within
        # -search.latencyOffset (30 s) of now back by that much, hiding the newest points.
        lookback_s = int(self.latest_lookback.total_seconds()) + _AHEAD_S
        q = f"tlast_over_time({MEASUREMENT}_quality{{station={_label(station)}}}[{lookback_s}s])"
        data = self.reader.request(
            "GET",
            "/api/v1/query",
            query={"query": q, "time": _seconds(_now_ms() + _AHEAD_S * 1000)},
        )
        try:
            result = json.loads(data)["data"]["result"]
        except (ValueError, KeyError) as exc:
            raise StoreUnavailable(f"{self.url}: unexpected /api/v1/query answer: {exc}") from exc
        by_instant: dict[int, set[str]] = defaultdict(set)
        for series in result:
            # Seconds with a millisecond fraction, e.g. "1795326482.153".
            by_instant[round(float(series["value"][1]) * 1000)].add(series["metric"]["param"])
        newest: dict[str, Reading] = {}
        for ms, params in sorted(by_instant.items()):
            for reading in self._points(
                station, self.export(self._selector(station, params), ms, ms)
            ):
                newest[reading.param] = reading
        return [newest[param] for param in sorted(newest)]

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
        start_ms, end_ms = epoch_ms(start), epoch_ms(end)
        if end_ms <= start_ms:
            return []
        lines = self.export(self._selector(station, [param]), start_ms, end_ms - 1)
        found = self._points(station, lines)
        if every is not None:
            found = aggregate(found, every)
        return found[:limit]

    def stations(self) -> list[str]:
        data = self.reader.request(
            "GET",
            "/api/v1/label/station/values",
            # All time: without start and end, VictoriaMetrics looks at the last day only.
            query={"match[]": f"{MEASUREMENT}_quality", "start": "0", "end": _seconds(_now_ms())},
        )
        try:
            values: list[str] = json.loads(data)["data"]
        except (ValueError, KeyError) as exc:
            raise StoreUnavailable(f"{self.url}: unexpected label values answer: {exc}") from exc
        return sorted(values)

    def close(self) -> None:
        self.writer.close()
        self.reader.close()


def _now_ms() -> int:
    return round(time.time() * 1000)
