"""The demo's weather is pure: tested as tables, so the demo shows what it promises."""

from __future__ import annotations

import itertools

import pytest

from alerting.templates import vi_number
from collector.indices import flood_alarm
from gateway.model import DeviceStatus
from quantrac.scenario import (
    HUE_WEATHER,
    KIM_LONG,
    NAM_DONG,
    PHU_OC,
    STORM_CYCLE_S,
    radar_echo_lost,
)

SECONDS = [t / 2 for t in range(int(STORM_CYCLE_S * 2 * 2))]  # two cycles, every 0.5 s


@pytest.mark.parametrize(
    ("value", "decimals", "text"),
    [
        (2.25, 2, "2,25"),
        (0.6, 2, "0,60"),
        (1234.5, 1, "1.234,5"),
        (-0.4, 2, "-0,40"),
        (1234567.891, 2, "1.234.567,89"),
        (180.0, 0, "180"),
    ],
)
def test_vietnamese_number_format(value: float, decimals: int, text: str) -> None:
    assert vi_number(value, decimals) == text


def test_kim_long_passes_every_alarm_level_and_falls_back() -> None:
    levels = [flood_alarm(KIM_LONG.level(t), (1.0, 2.0, 3.5)) for t in SECONDS]
    reached = [a.level for a in levels if a is not None]
    assert reached[0] == 0
    assert max(reached) == 3
    assert {0, 1, 2, 3} <= set(reached)
    # ...and back below BĐ I before the next storm.
    assert reached[int(STORM_CYCLE_S * 2) - 2] == 0


def test_phu_oc_peaks_between_its_bd2_and_bd3_after_kim_long() -> None:
    levels = [PHU_OC.level(t) for t in SECONDS[: int(STORM_CYCLE_S * 2)]]
    assert 3.0 <= max(levels) < 4.5
    kim_long = [KIM_LONG.level(t) for t in SECONDS[: int(STORM_CYCLE_S * 2)]]
    assert levels.index(max(levels)) > kim_long.index(max(kim_long))


def test_rain_counter_never_decreases_and_a_storm_brings_heavy_rain() -> None:
    counts = [NAM_DONG.count(t) for t in SECONDS]
    assert all(b >= a for a, b in itertools.pairwise(counts))
    one_cycle_mm = (NAM_DONG.count(STORM_CYCLE_S) - NAM_DONG.count(0)) * NAM_DONG.bucket_mm
    assert one_cycle_mm > 200  # above the 200 mm / 24 h of heavy-rain risk level 2


def test_the_storm_brings_wind_of_cap_8_and_falling_pressure() -> None:
    samples = [HUE_WEATHER.values(t) for t in SECONDS[: int(STORM_CYCLE_S * 2)]]
    peak = max(s["wind_speed"] for s in samples)
    assert 17.2 <= peak <= 20.7 + 0.5  # Beaufort cấp 8, plus the turbulence term
    assert min(s["pressure"] for s in samples) < samples[0]["pressure"] - 10
    assert all(s["wind_gust"] >= s["wind_speed"] for s in samples)


def test_the_radar_loses_its_echo_briefly_each_cycle() -> None:
    statuses = [radar_echo_lost(t) for t in SECONDS]
    lost = statuses.count(DeviceStatus.ERROR)
    assert 0 < lost < len(statuses) / 10
