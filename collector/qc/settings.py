"""QC settings per series: the defaults file, per parameter kind and parameter, under a station's.

Resolution, later wins: ``all`` → ``kinds.<kind>`` → ``params.<param>`` → the station's ``qc:``
in the site config (gateway.config.QcOverride). Physical limits default to parameters.yaml.
"""

from __future__ import annotations

import functools
import math
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime, time
from functools import cache
from importlib import resources
from typing import Any

import yaml

from gateway.config import QcOverride, StationConfig
from gateway.model import VIETNAM_TZ
from gateway.parameters import ParameterRegistry, UnknownParameterError, registry


@dataclass(frozen=True, slots=True)
class SeriesSettings:
    """Every QC setting of one series, resolved; NaN or 0 where a check is off."""

    known: bool  # in the parameter registry
    low: float
    high: float
    max_rate_per_ms: float  # NaN: no spike check
    rate_reset: int
    flatline: int  # 0: no flatline check
    flatline_tolerance: float
    hampel_window: int  # 0: no outlier check
    hampel_sigmas: float
    hampel_min_sigma: float
    future_ms: int
    not_before_ms: int


@dataclass(frozen=True)
class QcDefaults:
    all: QcOverride
    kinds: Mapping[str, QcOverride]
    params: Mapping[str, QcOverride]
    not_before: date

    @classmethod
    def from_document(cls, document: Mapping[str, Any]) -> QcDefaults:
        return cls(
            all=QcOverride.model_validate(document.get("all") or {}),
            kinds={k: QcOverride.model_validate(v or {}) for k, v in document["kinds"].items()},
            params={k: QcOverride.model_validate(v or {}) for k, v in document["params"].items()},
            not_before=document["not_before"],
        )


@cache
def default_settings() -> QcDefaults:
    text = resources.files("collector.qc").joinpath("defaults.yaml").read_text(encoding="utf-8")
    return QcDefaults.from_document(yaml.safe_load(text))


def _merge(layers: list[QcOverride]) -> dict[str, Any]:
    merged: dict[str, Any] = {}
    for layer in layers:
        # Only what a layer sets explicitly overrides (an explicit null disables a check).
        merged.update({name: getattr(layer, name) for name in layer.model_fields_set})
    return merged


def _ms(moment: datetime) -> int:
    return int(moment.timestamp() * 1000)


class QcSettings:
    """Resolves the settings of a (station, param) series; one instance per collector."""

    def __init__(
        self,
        stations: Mapping[str, StationConfig] | None = None,
        defaults: QcDefaults | None = None,
        parameters: ParameterRegistry | None = None,
        *,
        time_scale: float = 1.0,
    ) -> None:
        self.stations = dict(stations or {})
        # The demo plays a day's storm in minutes: its rivers may rise that much faster.
        self.time_scale = time_scale
        self.defaults = defaults or default_settings()
        self.parameters = parameters or registry()

    def _not_before(self, station: StationConfig | None) -> int:
        day = station.commissioned if station and station.commissioned else self.defaults.not_before
        return self._local_midnight_ms(day)

    @functools.lru_cache(maxsize=256)  # noqa: B019 — a handful of commissioning days
    def _local_midnight_ms(self, day: date) -> int:
        # Commissioning dates are local (Vietnam) calendar days.
        return _ms(datetime.combine(day, time(), VIETNAM_TZ).astimezone(UTC))

    def resolve(self, station_id: str, param: str) -> SeriesSettings:
        station = self.stations.get(station_id)
        if station is None or param not in station.qc:
            # Most series take their parameter's defaults: resolve those once per parameter.
            return self._shared(param, self._not_before(station))
        return self._resolve(station, param, self._not_before(station))

    @functools.lru_cache(maxsize=4096)  # noqa: B019 — one QcSettings per collector, kept for life
    def _shared(self, param: str, not_before_ms: int) -> SeriesSettings:
        return self._resolve(None, param, not_before_ms)

    def _resolve(
        self, station: StationConfig | None, param: str, not_before_ms: int
    ) -> SeriesSettings:
        try:
            parameter = self.parameters[param]
        except UnknownParameterError:
            parameter = None
        layers = [self.defaults.all]
        if parameter is not None and parameter.kind in self.defaults.kinds:
            layers.append(self.defaults.kinds[parameter.kind])
        if param in self.defaults.params:
            layers.append(self.defaults.params[param])
        if station is not None and param in station.qc:
            layers.append(station.qc[param])
        merged = _merge(layers)
        limits = merged.get("limits")
        if limits is not None:
            low, high = limits
        elif parameter is not None:
            low, high = parameter.low, parameter.high
        else:
            low, high = -math.inf, math.inf
        rate = merged.get("max_rate_per_min")
        return SeriesSettings(
            known=parameter is not None,
            low=float(low),
            high=float(high),
            max_rate_per_ms=math.nan if rate is None else float(rate) * self.time_scale / 60_000,
            rate_reset=int(merged.get("rate_reset") or 1),
            flatline=int(merged.get("flatline") or 0),
            flatline_tolerance=float(merged.get("flatline_tolerance") or 0.0),
            hampel_window=int(merged.get("hampel_window") or 0),
            hampel_sigmas=float(merged.get("hampel_sigmas") or 4.0),
            hampel_min_sigma=float(merged.get("hampel_min_sigma") or 0.0),
            future_ms=int(float(merged.get("future_s") or 0.0) * 1000),
            not_before_ms=not_before_ms,
        )
