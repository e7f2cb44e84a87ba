"""The report's figures from the replayed smog and flood days, against values computed by hand
from the scenario's own formulas (tests/reports/scenario.py) and the decisions' tables — not
through the report's code, the store, or collector.indices."""

from __future__ import annotations

import math
from datetime import datetime, timedelta

import pytest

from alerting.model import AlertKind
from collector.indices import Pollutant
from quantrac.reports.model import Report
from tests.dashboards.flood_and_smog import ZONE, air, river_quality
from tests.reports.conftest import Replayed
from tests.reports.scenario import (
    NOX_OFFLINE_H,
    hourly_mean,
    level_crossing_h,
    polls,
    smog_no2,
    storm_wind,
)

POLL = timedelta(minutes=5)


def local(moment: datetime | None) -> datetime:
    assert moment is not None
    return moment.astimezone(ZONE)


def at_hour(replayed: Replayed, day_offset: int, hours: float) -> datetime:
    return replayed.replay.start.astimezone(ZONE) + timedelta(days=day_offset, hours=hours)


def next_poll(replayed: Replayed, day_offset: int, hours: float) -> datetime:
    """The first 5-minute poll at or after ``hours`` (a level is seen when it is polled)."""
    return at_hour(replayed, day_offset, math.ceil(hours * 12 - 1e-9) / 12)


# -- the smog day ----------------------------------------------------------------------------


def test_smog_day_vn_aqi_is_kem_from_pm25(smog_day: Report) -> None:
    # PM2.5's 24-hour mean: the day's hourly means of its 12 polls, averaged (the 01:00 … 24:00
    # hours of Decision 1459), then the PM2.5 column: 50 µg/m³ → 100, 80 → 150.
    means = [hourly_mean([air(h)["pm25"] for h in polls(k, k + 1)]) for k in range(24)]
    pm25_24h = sum(means) / 24
    assert pm25_24h == pytest.approx(59.168, abs=0.001)
    by_hand = round(100 + (pm25_24h - 50) / (80 - 50) * (150 - 100))  # 115.28 → 115
    (figures,) = smog_day.air
    (day,) = figures.days
    assert day.result.value == by_hand == 115
    assert day.result.category is not None
    assert day.result.category.name == "Kém"
    assert day.result.dominant is Pollutant.PM25


def test_smog_day_worst_hour_is_the_nowcast_peak(smog_day: Report) -> None:
    # NowCast of the 12 hourly PM2.5 means up to 15:00: w = c_min/c_max (> 1/2 here),
    # Σ w^(i−1) c_i / Σ w^(i−1); the hour's AQI from the PM2.5 column (80 → 150, 150 → 200).
    means = [hourly_mean([air(h)["pm25"] for h in polls(k, k + 1)]) for k in range(15)]
    last12 = list(reversed(means[-12:]))
    w = max(min(last12) / max(last12), 0.5)
    nowcast = sum(w**i * c for i, c in enumerate(last12)) / sum(w**i for i in range(12))
    by_hand = math.floor(150 + (nowcast - 80) / (150 - 80) * 50 + 0.5)
    worst = smog_day.air[0].worst_hour
    assert worst is not None
    assert local(worst.hour_end).hour == 15
    assert worst.result.value == by_hand == 162
    assert worst.result.dominant is Pollutant.PM25


def test_smog_day_no2_exceeds_the_one_hour_limit_with_the_analyser_offline(
    smog_day: Report,
) -> None:
    # QCVN 05:2023: NO2 1 h ≤ 200 µg/m³. Hours 10:00 … 15:00 have no NO2 (the analyser was
    # offline 09:00–15:00): 18 of 24 hours judged. QC's Hampel filter flags the first 5 values
    # after the gap (15:00–15:20) as suspect outliers: kept, but not averaged.
    def counted(h: float) -> bool:
        offline = NOX_OFFLINE_H[0] <= h < NOX_OFFLINE_H[1]
        return not offline and not NOX_OFFLINE_H[1] <= h < NOX_OFFLINE_H[1] + 5 / 12

    hours = {}
    for k in range(24):
        values = [smog_no2(h) for h in polls(k, k + 1) if counted(h)]
        if values:
            hours[k + 1] = hourly_mean(values)
    over = {end: mean for end, mean in hours.items() if mean > 200}
    assert list(over) == [16, 17]  # the means of 15:00–16:00 (216.8) and 16:00–17:00 (201.3)
    one_hour = next(
        e for e in smog_day.air[0].exceedances if e.param == "no2" and e.averaging == "1 giờ"
    )
    assert (one_hour.evaluated, one_hour.exceeded) == (len(hours), 2) == (18, 2)
    assert one_hour.worst == pytest.approx(over[16], abs=1e-9)
    assert local(one_hour.worst_at).hour == 16
    assert local(one_hour.first_at).hour == 16
    pm25 = next(e for e in smog_day.air[0].exceedances if e.param == "pm25")
    assert (pm25.averaging, pm25.limit, pm25.evaluated, pm25.exceeded) == ("24 giờ", 45, 1, 1)


def test_smog_day_completeness_shows_the_offline_analyser(smog_day: Report) -> None:
    no2 = next(q for q in smog_day.quality if q.station == "hue_air" and q.param == "no2")
    # 6 hours of 12 polls missing of the day's 288.
    assert (no2.received, no2.expected) == (288 - 72, 288)
    assert no2.completeness == pytest.approx(0.75)
    assert no2.suspect == 5  # the outliers after the gap
    pm25 = next(q for q in smog_day.quality if q.station == "hue_air" and q.param == "pm25")
    assert pm25.completeness == 1.0


def test_the_day_after_the_smog_is_o3_trung_binh(flood_day: Report) -> None:
    # Clean air: O3 = 60 + 50 = 110 µg/m³ all day; its 8-hour column: 100 → 50, 120 → 100.
    (day,) = flood_day.air[0].days
    assert day.result.value == round(50 + (110 - 100) / (120 - 100) * 50) == 75
    assert day.result.dominant is Pollutant.O3


# -- the flood day ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("station", "levels", "base", "crest", "crest_h"),
    [
        ("kim_long", (1.0, 2.0, 3.5), 0.6, 3.8, 18.0),
        ("phu_oc", (1.5, 3.0, 4.5), 0.9, 3.4, 19.0),
    ],
)
def test_flood_day_crests_and_crossings(
    flood_day: Report,
    replayed: Replayed,
    station: str,
    levels: tuple[float, float, float],
    base: float,
    crest: float,
    crest_h: float,
) -> None:
    river = next(r for r in flood_day.rivers if r.station == station)
    assert river.crest == pytest.approx(crest, abs=0.005)  # the gauge's ±4 mm of noise
    assert local(river.crest_at) == at_hour(replayed, 1, crest_h)
    reached = sum(1 for level in levels if crest >= level)
    assert river.alarm is not None
    assert river.alarm.level == reached
    crossed = [lv for lv in levels if lv < crest]
    ups = {c.level: c.up_at for c in river.crossings}
    for number, level in enumerate(crossed, start=1):
        rises = level_crossing_h(level, base, crest, crest_h)
        # The first poll at or above the level; the noise can move it by one poll.
        assert abs(local(ups[number]) - next_poll(replayed, 1, rises)) <= POLL
    downs = {c.level: c.down_at for c in river.crossings}
    for number, level in enumerate(crossed, start=1):
        falls = 2 * crest_h - level_crossing_h(level, base, crest, crest_h)  # the wave's mirror
        if falls >= 24:
            assert downs[number] is None  # still above at midnight: "chưa xuống"
        else:
            assert abs(local(downs[number]) - next_poll(replayed, 1, falls)) <= POLL


def test_flood_day_rain_and_its_risk_level(flood_day: Report) -> None:
    (rain,) = flood_day.rain
    (day,) = rain.days
    # 320 mm between 08:00 and 20:00: 1600 tips of 0.2 mm.
    assert day.total_mm == rain.total_mm == 320.0
    assert rain.max_24h_mm == 320.0
    assert local(rain.max_24h_at).hour == 20  # all of it fallen, first at the top of 20:00
    # Nam Đông is mountain terrain (rules.yaml): more than 200 mm in 12 h is risk level 3
    # (docs/indices.md, the default table); > 100 mm in 24 h is "mưa rất to".
    assert rain.terrain.value == "mountain"
    assert day.risk.level is not None
    assert int(day.risk.level) == 3
    assert day.intensity is not None
    assert day.intensity.value == "mưa rất to"


def test_smog_day_is_dry(smog_day: Report) -> None:
    (rain,) = smog_day.rain
    assert rain.total_mm == 0.0
    assert not rain.risk_days


def test_flood_day_strongest_wind(flood_day: Report) -> None:
    (wind,) = flood_day.wind
    by_hand = max(storm_wind(h) for h in polls(0, 24))
    assert wind.max_speed == by_hand == 19.3
    assert wind.cap is not None
    assert wind.cap.label == "cấp 8"
    assert wind.max_gust == round(by_hand * 1.4 + 0.5, 1) == 27.5
    assert wind.gust_cap is not None
    assert wind.gust_cap.gust_label == "giật cấp 10"
    assert wind.storm is not None
    assert wind.storm.label == "bão"


def test_flood_day_radar_echo_lost_is_bad_data(flood_day: Report) -> None:
    level = next(q for q in flood_day.quality if q.station == "phu_oc")
    assert (level.received, level.bad) == (288, 6)  # 20:00–20:30, status error
    assert level.bad_share == pytest.approx(6 / 288)


def test_flood_day_surface_water_against_qcvn_08(flood_day: Report) -> None:
    (water,) = flood_day.water
    assert len(water.samples) == 24  # an hourly VN_WQI all day (pH, DO, COD, NH4, coliform)

    # Class A: DO ≥ 6 mg/L, COD ≤ 10 mg/L, pH 6.5–8.5, each hourly mean of the storm's river
    # (the boards' replay's day, which is this report's flood day).
    def means(param: str) -> list[float]:
        return [hourly_mean([river_quality(h)[param] for h in polls(k, k + 1)]) for k in range(24)]

    by_hand = {
        ("do", 6.0): sum(1 for m in means("do") if m < 6.0),
        ("cod", 10): sum(1 for m in means("cod") if m > 10),
        ("ph", 6.5): sum(1 for m in means("ph") if m < 6.5),
        ("ph", 8.5): sum(1 for m in means("ph") if m > 8.5),
    }
    exceeded = {(e.param, e.limit): e.exceeded for e in water.exceedances}
    assert (
        {key: exceeded[key] for key in by_hand}
        == by_hand
        == {
            ("do", 6.0): 6,
            ("cod", 10): 10,
            ("ph", 6.5): 0,
            ("ph", 8.5): 0,
        }
    )
    worst_do = next(e for e in water.exceedances if e.param == "do")
    assert worst_do.worst == pytest.approx(min(means("do")), abs=1e-9)


def test_flood_day_warnings(flood_day: Report) -> None:
    figures = flood_day.warnings
    assert figures is not None
    # Kim Long reached BĐ III, Nam Đông risk level 3, Huế's wind level 1; the air incident of
    # the day before ended before this day began.
    assert figures.by_kind_level == (
        (AlertKind.FLOOD, 3, 1),
        (AlertKind.RAIN, 3, 1),
        (AlertKind.STORM, 1, 1),
    )
    channels = {c.channel: (c.sent, c.failed) for c in figures.channels}
    # 3 flood messages × 2 phones; a landline refused; an email retried, then sent; the
    # report's own email is not a warning.
    assert channels == {"sms": (6, 1), "email": (1, 0)}
    assert sorted(figures.ack_delays) == [timedelta(minutes=15), timedelta(minutes=30)]
    assert figures.median_ack == timedelta(minutes=22, seconds=30)
    assert figures.unacked == 1  # the rain incident
