"""A day and a half over Huế, replayed: a smoggy day, then a storm and its flood (pure).

The boards are held to this replay. It starts at a local midnight (``start``) and lasts
``HOURS`` hours, one poll every ``POLL`` as the replay site polls (examples/hue with every
interval at 300 s):

- **Smog** on day 1: PM2.5 climbs from 30 to about 100 µg/m³ in the afternoon, so the day's
  VN_AQI is "Kém"; day 2 is clean.
- **Storm** on day 1: 320 mm of rain at Nam Đông between 08:00 and 20:00, wind at Huế up to
  19 m/s (cấp 8) at 15:00; the Hương at Kim Long crests at 3.8 m (above BĐ III, 3.5 m) at 18:00,
  the Bồ at Phú Ốc at 3.4 m (BĐ II) at 19:00; the water at Vạn Niên turns muddy.
- Phú Ốc's radar loses its echo from 20:00 to 20:30 (device status error: flagged bad);
  its logger stops answering for the last 2 hours (the gateway's heartbeat says 0).
- The Phú Bài plant's TT10 files stop after 30 hours (a station that just goes silent).

Vạn Niên also reports COD and coliform (an online analyser), so its hourly VN_WQI exists.
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from gateway.model import DeviceStatus, Reading, ReadingBatch
from gateway.parameters import registry

ZONE = ZoneInfo("Asia/Ho_Chi_Minh")
HOURS = 36
POLL = timedelta(minutes=5)
GATEWAY = "gw-hue-1"

KIM_LONG_CREST_H, KIM_LONG_CREST_M = 18.0, 3.8
PHU_OC_CREST_H, PHU_OC_CREST_M = 19.0, 3.4
STORM_MM = 320.0
WIND_PEAK_H, WIND_PEAK_M_S = 15.0, 19.0
RADAR_LOST_H = (20.0, 20.5)
PHU_OC_SILENT_FROM_H = HOURS - 2.0
TT10_SILENT_FROM_H = 30.0


def bump(hours: float, start: float, end: float) -> float:
    """A raised cosine 0 → 1 → 0 between ``start`` and ``end`` (hours), 0 outside."""
    if not start <= hours <= end:
        return 0.0
    return (1 - math.cos(2 * math.pi * (hours - start) / (end - start))) / 2


def wobble(hours: float, amplitude: float, salt: float = 0.0) -> float:
    """Sensor noise, deterministic: QC flags a perfectly flat line as a stuck sensor."""
    return amplitude * (
        0.6 * math.sin(hours * 7.3 + salt) + 0.4 * math.sin(hours * 17.9 + 2 * salt)
    )


def kim_long_level(h: float) -> float:
    return 0.6 + (KIM_LONG_CREST_M - 0.6) * bump(h, KIM_LONG_CREST_H - 8, KIM_LONG_CREST_H + 8)


def phu_oc_level(h: float) -> float:
    return 0.9 + (PHU_OC_CREST_M - 0.9) * bump(h, PHU_OC_CREST_H - 8, PHU_OC_CREST_H + 8)


def rain_mm(h: float) -> float:
    """Rain fallen at Nam Đông since the start: the integral of a raised-cosine burst."""
    start, end = 8.0, 20.0
    x = min(max((h - start) / (end - start), 0.0), 1.0)
    return STORM_MM * (x - math.sin(2 * math.pi * x) / (2 * math.pi))


def smog(h: float) -> float:
    """0 → 1 over day 1's afternoon; gone on day 2."""
    return bump(h, 4.0, 24.0)


def air(h: float) -> dict[str, float]:
    s = smog(h)
    return {
        "pm25": round(30 + 70 * s + wobble(h, 1.5), 1),
        "pm10": round(50 + 90 * s + wobble(h, 2.0, 0.3), 1),
        "no2": round(30 + 60 * s + wobble(h, 1.0, 0.5), 1),
        "so2": round(10 + 8 * s + wobble(h, 0.5, 0.7), 1),
        "co": round(800 + 2000 * s + wobble(h, 20.0, 0.9), 0),
        "o3": round(60 + 50 * (1 - s) + wobble(h, 1.0, 1.1), 1),
    }


def weather(h: float) -> dict[str, float]:
    storm = bump(h, WIND_PEAK_H - 7, WIND_PEAK_H + 7)
    wind = 2.5 + (WIND_PEAK_M_S - 2.5) * storm + abs(wobble(h, 0.3))
    return {
        "wind_speed": round(wind, 1),
        "wind_gust": round(wind * 1.4 + 0.5, 1),
        "wind_dir": round(30.0 + 85.0 * storm, 1),
        "air_temp": round(27.0 - 3.5 * storm + wobble(h, 0.2), 1),
        "humidity": round(min(100.0, 78.0 + 19.0 * storm + wobble(h, 0.5, 0.4)), 1),
        "pressure": round(1009.0 - 17.0 * storm + wobble(h, 0.2, 0.8), 1),
    }


def river_quality(h: float) -> dict[str, float]:
    flood = bump(h, 11.0, 29.0)
    return {
        "water_temp": round(26.5 - 1.7 * flood + wobble(h, 0.05), 2),
        "ph": round(7.3 - 0.5 * flood + wobble(h, 0.03, 0.3), 2),
        "do": round(7.4 - 2.0 * flood + wobble(h, 0.05, 0.6), 2),
        "conductivity": round(180.0 - 85.0 * flood + wobble(h, 1.0, 0.9), 1),
        "turbidity": round(8.0 + 410.0 * flood + wobble(h, 0.6, 1.2), 1),
        "n_nh4": round(0.08 + 0.4 * flood + wobble(h, 0.004, 1.5), 3),
        "cod": round(6.0 + 14.0 * flood + wobble(h, 0.2, 1.7), 2),
        "coliform": round(1800.0 + 7000.0 * flood + wobble(h, 40.0, 1.9), 0),
    }


def outlet(h: float) -> dict[str, float]:
    storm = bump(h, 8.0, 22.0)
    return {
        "ph": round(7.1 - 0.2 * storm + wobble(h, 0.02), 2),
        "cod": round(46.0 - 18.0 * storm + wobble(h, 0.5, 0.2), 1),
        "tss": round(18.0 + 25.0 * storm + wobble(h, 0.5, 0.4), 1),
        "n_nh4": round(2.4 - 1.1 * storm + wobble(h, 0.03, 0.6), 2),
        "water_temp": round(29.5 - 2.5 * storm + wobble(h, 0.1, 0.8), 1),
        "flow": round(310.0 + 240.0 * storm + wobble(h, 3.0, 1.0), 1),
    }


@dataclass(frozen=True)
class Replay:
    start: datetime  # a local midnight, as UTC

    @classmethod
    def days_ago(cls, days: int, today: date | None = None) -> Replay:
        """Starting at local midnight ``days`` days before today (VictoriaMetrics keeps a
        month and refuses the future: the replay must be recent, and end in the past)."""
        day = (today or datetime.now(ZONE).date()) - timedelta(days=days)
        return cls(datetime.combine(day, time(0), ZONE).astimezone(UTC))

    @property
    def end(self) -> datetime:
        return self.start + timedelta(hours=HOURS)

    def at(self, hours: float) -> datetime:
        return self.start + timedelta(hours=hours)

    def hours_of(self, ts: datetime) -> float:
        return (ts - self.start).total_seconds() / 3600

    def instants(self) -> Iterator[datetime]:
        ts = self.start
        while ts < self.end:
            yield ts
            ts += POLL

    def readings_at(self, ts: datetime) -> dict[str, tuple[dict[str, float], DeviceStatus, bool]]:
        """Per station: values, device status, and whether a heartbeat goes with them."""
        h = self.hours_of(ts)
        out: dict[str, tuple[dict[str, float], DeviceStatus, bool]] = {
            "kim_long": (
                {"water_level": round(kim_long_level(h) + wobble(h, 0.004), 3)},
                DeviceStatus.MEASURING,
                True,
            ),
            "hue_air": (air(h), DeviceStatus.MEASURING, True),
            "hue_weather": (weather(h), DeviceStatus.MEASURING, True),
            "van_nien": (river_quality(h), DeviceStatus.MEASURING, True),
            "nam_dong": (
                {"rain_counter": float(183_420 + math.floor(rain_mm(h) / 0.2 + 1e-9))},
                DeviceStatus.MEASURING,
                True,
            ),
        }
        if h < PHU_OC_SILENT_FROM_H:
            lost = RADAR_LOST_H[0] <= h < RADAR_LOST_H[1]
            status = DeviceStatus.ERROR if lost else DeviceStatus.MEASURING
            out["phu_oc"] = (
                {"water_level": round(phu_oc_level(h) + wobble(h, 0.004, 0.5), 3)},
                status,
                True,
            )
        else:
            out["phu_oc"] = ({}, DeviceStatus.MEASURING, True)  # the poll fails: heartbeat 0
        if h < TT10_SILENT_FROM_H:
            out["xlnt_phu_bai"] = (outlet(h), DeviceStatus.MEASURING, False)
        return out

    def batches(self) -> Iterator[ReadingBatch]:
        """Every poll of every station, in time order, numbered as one gateway numbers them."""
        seq = 0
        units = registry()
        for ts in self.instants():
            for station, (values, status, heartbeat) in self.readings_at(ts).items():
                readings = [
                    Reading(station, param, value, units[param].unit, ts, status=status)
                    for param, value in values.items()
                ]
                if heartbeat:
                    online = 1.0 if values else 0.0
                    readings.append(Reading(station, "station_online", online, "bool", ts))
                seq += 1
                yield ReadingBatch(
                    GATEWAY, seq, station, tuple(readings), produced_at=ts, epoch="replay"
                )
