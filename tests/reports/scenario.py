"""Two days over Huế for the reports, replayed (pure): a smog day, then a flood day.

Built on the boards' replay (tests/dashboards/flood_and_smog.py), its clock shifted so that:

- **Day 1 (the smog day)**: PM2.5 climbs from 30 to about 100 µg/m³ over the afternoon (the
  day's VN_AQI is "Kém"); NO2 peaks at about 230 µg/m³, above the 1-hour limit of QCVN
  05:2023 (200) for a few hours; and the NOx analyser is offline from 09:00 to 15:00 (its NO2
  values are missing for 6 hours: 72 of the day's 288 records).
- **Day 2 (the flood day)**: the storm of the boards' replay — 320 mm at Nam Đông between
  08:00 and 20:00, wind cấp 8 at Huế at 15:00, the Hương at Kim Long cresting at 3.8 m (above
  BĐ III, 3.5 m) at 18:00, the Bồ at Phú Ốc at 3.4 m (BĐ II) at 19:00, Phú Ốc's radar losing
  its echo from 20:00 to 20:30 (6 records flagged bad).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta

from gateway.model import DeviceStatus
from tests.dashboards.flood_and_smog import ZONE, Replay, air, bump, smog, wobble

DAY = timedelta(days=1)
HOURS = 48
NOX_OFFLINE_H = (9.0, 15.0)  # day 1, local
FLOOD_STATIONS = ("kim_long", "phu_oc", "nam_dong", "hue_weather", "van_nien", "xlnt_phu_bai")


def smog_no2(h: float) -> float:
    return round(30 + 200 * smog(h) + wobble(h, 1.0, 0.5), 1)


def smog_air(h: float) -> dict[str, float]:
    values = air(h)
    values["no2"] = smog_no2(h)
    if NOX_OFFLINE_H[0] <= h < NOX_OFFLINE_H[1]:
        del values["no2"]  # the analyser is offline: the logger leaves its value out
    return values


@dataclass(frozen=True)
class SmogThenFlood(Replay):
    @classmethod
    def on(cls, first_day: date) -> SmogThenFlood:
        return cls(datetime.combine(first_day, time(0), ZONE).astimezone(UTC))

    @classmethod
    def recent(cls, today: date | None = None) -> SmogThenFlood:
        """Ending at the last local midnight: in VictoriaMetrics' month, never in the future,
        and within the 3 days the collector's local copy keeps (the tests' ground truth)."""
        day = (today or datetime.now(ZONE).date()) - timedelta(days=2)
        return cls.on(day)

    @property
    def end(self) -> datetime:
        return self.start + timedelta(hours=HOURS)

    @property
    def smog_day(self) -> date:
        return self.start.astimezone(ZONE).date()

    @property
    def flood_day(self) -> date:
        return self.smog_day + DAY

    def readings_at(self, ts: datetime) -> dict[str, tuple[dict[str, float], DeviceStatus, bool]]:
        # The boards' replay a day later: its storm falls on day 2 (day 1 is calm, dry).
        shifted = super().readings_at(ts - DAY)
        out = {station: shifted[station] for station in FLOOD_STATIONS if station in shifted}
        out["hue_air"] = (smog_air(self.hours_of(ts)), DeviceStatus.MEASURING, True)
        return out


# -- the hand computations the tests hold the reports to ----------------------------------------


def polls(start_h: float, end_h: float) -> list[float]:
    """The hours (since the replay's start) of the 5-minute polls in [start_h, end_h)."""
    n = round((end_h - start_h) * 12)
    return [start_h + i / 12 for i in range(n)]


def hourly_mean(values: list[float]) -> float:
    return sum(values) / len(values)


def level_crossing_h(level_m: float, base_m: float, crest_m: float, crest_h: float) -> float:
    """When a raised-cosine flood wave ``base + (crest − base)·(1 − cos θ)/2`` over
    [crest − 8 h, crest + 8 h] first reaches ``level_m`` (hours since its day's midnight)."""
    share = (level_m - base_m) / (crest_m - base_m)
    theta = math.acos(1 - 2 * share)
    return crest_h - 8 + 16 * theta / (2 * math.pi)


def storm_wind(h: float) -> float:
    """The boards' replay's wind at Huế (m/s), ``h`` hours since the storm day's midnight."""
    return round(2.5 + 16.5 * bump(h, 8.0, 22.0) + abs(wobble(h, 0.3)), 1)
