"""A report: the figures of every section for one site and one period (pure data)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime

from gateway.config import StationConfig
from quantrac.reports.figures.air import AirStationFigures
from quantrac.reports.figures.hydromet import RainFigures, RiverFigures, WindFigures
from quantrac.reports.figures.quality import SeriesQuality
from quantrac.reports.figures.warnings import WarningFigures
from quantrac.reports.figures.water import WaterStationFigures
from quantrac.reports.period import ReportPeriod


@dataclass(frozen=True)
class Report:
    site: str  # the site's name: "Thừa Thiên Huế"
    period: ReportPeriod
    generated_at: datetime
    stations: Mapping[str, StationConfig]
    air: tuple[AirStationFigures, ...] = ()
    water: tuple[WaterStationFigures, ...] = ()
    rivers: tuple[RiverFigures, ...] = ()
    rain: tuple[RainFigures, ...] = ()
    wind: tuple[WindFigures, ...] = ()
    warnings: WarningFigures | None = None  # None: no alerting records were found
    quality: tuple[SeriesQuality, ...] = ()
    notes: tuple[str, ...] = field(default_factory=tuple)  # what the reader must know

    def name_of(self, station: str) -> str:
        config = self.stations.get(station)
        return config.name if config is not None else station

    @property
    def file_stem(self) -> str:
        """``bao-cao-ngay-2025-10-27``, ``bao-cao-thang-2025-10``: no diacritics in file names."""
        word = "ngay" if self.period.kind.value == "daily" else "thang"
        return f"bao-cao-{word}-{self.period.slug}"
