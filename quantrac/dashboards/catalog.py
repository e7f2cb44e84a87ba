"""What the boards are generated from: the site's station catalog, reduced to what a board shows.

Pure: a :class:`Site` in, a :class:`BoardCatalog` out. Every per-station detail of the boards
(the station's name in legends, the BĐ I/II/III bands of a water-level panel, a marker on the
map, the polls a day the completeness panel expects) comes from here, so adding a station to
``stations/*.yaml`` and running ``quantrac dashboards build`` is all a new station needs.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from quantrac.site import Site

SECONDS_PER_DAY = 86_400


@dataclass(frozen=True, slots=True)
class StationEntry:
    id: str
    name: str
    kind: str  # air, water, rain, hydro, weather
    district: str
    river: str | None = None
    lat: float | None = None
    lon: float | None = None
    flood_levels: tuple[float, float, float] | None = None  # BĐ I, II, III in metres
    # Polled stations (Modbus): one poll every interval_s, each with a station_online heartbeat.
    # Stations that send on their own (TT10 files, MQTT) have none: None.
    interval_s: float | None = None

    @property
    def label(self) -> str:
        """How a legend names the station: "Kim Long (sông Hương)"."""
        return f"{self.name} (sông {self.river})" if self.river else self.name

    @property
    def polls_per_day(self) -> int | None:
        if self.interval_s is None:
            return None
        return round(SECONDS_PER_DAY / self.interval_s)


@dataclass(frozen=True, slots=True)
class BoardCatalog:
    site_name: str
    timezone: str
    stations: tuple[StationEntry, ...]

    def of_kind(self, *kinds: str) -> tuple[StationEntry, ...]:
        return tuple(s for s in self.stations if s.kind in kinds)

    @property
    def districts(self) -> tuple[str, ...]:
        return tuple(sorted({s.district for s in self.stations}))

    @property
    def located(self) -> tuple[StationEntry, ...]:
        return tuple(s for s in self.stations if s.lat is not None and s.lon is not None)

    @property
    def polled(self) -> tuple[StationEntry, ...]:
        return tuple(s for s in self.stations if s.polls_per_day is not None)


def catalog_of(site: Site) -> BoardCatalog:
    """The board catalog of a loaded site, stations in id order (stable output, stable diffs)."""
    entries = []
    for station in sorted(site.stations.values(), key=lambda s: s.id):
        location = station.location
        entries.append(
            StationEntry(
                id=station.id,
                name=station.name,
                kind=station.kind,
                district=station.district,
                river=station.river,
                lat=location.lat if location else None,
                lon=location.lon if location else None,
                flood_levels=station.flood_levels.as_tuple() if station.flood_levels else None,
                interval_s=station.modbus.interval_s if station.is_modbus else None,
            )
        )
    return BoardCatalog(site.settings.name, site.settings.timezone, tuple(entries))


def ids(stations: Iterable[StationEntry]) -> list[str]:
    return [s.id for s in stations]
