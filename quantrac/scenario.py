"""The demo's weather: one storm over Huế, compressed into a few minutes (pure functions).

Times are seconds of demo time. Every cycle of 220 s the same storm passes: rain bursts over
Nam Đông first, the wind at Huế rises to cấp 8 as the pressure falls, then the flood wave
reaches Kim Long (báo động I, II, III and back) and Phú Ốc, and the Hương at Vạn Niên turns
muddy and dilute. Huế's air goes through its day meanwhile.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime

from gateway.config import Connection, StationConfig
from gateway.model import DeviceStatus
from gateway.simulator import Scenario, SimulatedDevice, SimulatedEndpoint
from quantrac.site import Site

STORM_CYCLE_S = 220.0  # one storm: every scenario below repeats with this period


def storm_phase(elapsed_s: float, *, period_s: float, calm_s: float, lag_s: float = 0.0) -> float:
    """A raised cosine 0 → 1 → 0 over ``period_s``, then 0 for ``calm_s``; 0 before ``lag_s``."""
    t = (elapsed_s - lag_s) % (period_s + calm_s)
    if elapsed_s < lag_s or t > period_s:
        return 0.0
    return (1 - math.cos(2 * math.pi * t / period_s)) / 2


def jitter(elapsed_s: float, amplitude: float, salt: float = 0.0) -> float:
    """A sensor's noise, deterministic so the scenario stays pure: real sensors never read the
    same value for long, and QC flags a flat line as a stuck sensor."""
    return amplitude * (
        0.6 * math.sin(2 * math.pi * elapsed_s / (3.1 + salt))
        + 0.4 * math.sin(2 * math.pi * elapsed_s / (1.7 + salt / 2))
    )


@dataclass(frozen=True)
class FloodWave:
    """A raised-cosine hydrograph: ``base`` → ``peak`` → ``base`` over ``period_s``, then calm."""

    base_m: float
    peak_m: float
    period_s: float = 180.0
    calm_s: float = STORM_CYCLE_S - 180.0
    lag_s: float = 0.0

    def level(self, elapsed_s: float) -> float:
        rise = storm_phase(elapsed_s, period_s=self.period_s, calm_s=self.calm_s, lag_s=self.lag_s)
        return self.base_m + (self.peak_m - self.base_m) * rise

    def values(self, elapsed_s: float) -> Mapping[str, float]:
        return {"water_level": round(self.level(elapsed_s) + jitter(elapsed_s, 0.004), 3)}


# Kim Long peaks above BĐ III (3.5 m); Phú Ốc, on the Bồ, peaks between BĐ II and III a little
# later, as the Bồ joins the Hương below the city.
KIM_LONG = FloodWave(base_m=0.6, peak_m=3.8)
PHU_OC = FloodWave(base_m=0.9, peak_m=3.4, lag_s=20.0)


def radar_echo_lost(
    elapsed_s: float, *, every_s: float = 220.0, for_s: float = 6.0
) -> DeviceStatus:
    """Phú Ốc's radar loses its echo for a few seconds each cycle (rain on the horn antenna):
    the readings arrive with device status "error" and are stored flagged, not dropped."""
    return DeviceStatus.ERROR if (elapsed_s % every_s) > every_s - for_s else DeviceStatus.MEASURING


def hue_air(elapsed_s: float) -> Mapping[str, float]:
    """Plausible Huế air over a compressed day: PM peaks at the rush hours."""
    day = 2 * math.pi * elapsed_s / 240.0
    rush = (1 + math.sin(day)) / 2
    return {
        "pm25": round(18 + 52 * rush + jitter(elapsed_s, 0.6), 1),
        "pm10": round(35 + 80 * rush + jitter(elapsed_s, 0.9, 0.3), 1),
        "no2": round(25 + 90 * rush + jitter(elapsed_s, 0.8, 0.5), 1),
        "so2": round(8 + 6 * rush + jitter(elapsed_s, 0.3, 0.7), 1),
        "co": round(700 + 2300 * rush + jitter(elapsed_s, 12.0, 0.9), 0),
        "o3": round(60 + 70 * (1 - rush) + jitter(elapsed_s, 0.8, 1.1), 1),
    }


@dataclass(frozen=True)
class TippingBucketRain:
    """The running counter of a tipping-bucket gauge: drizzle, and a storm burst each cycle.

    The burst's intensity is a raised cosine over ``period_s`` totalling ``storm_mm`` — a
    storm day of the central coast compressed into two minutes — so the counter is its
    integral, in whole tips of ``bucket_mm`` (0.2 mm, as rain_logger_tipping_bucket says).
    """

    start_count: int
    storm_mm: float
    drizzle_mm_per_s: float = 0.02
    period_s: float = 120.0
    calm_s: float = STORM_CYCLE_S - 120.0
    bucket_mm: float = 0.2

    def rain_mm(self, elapsed_s: float) -> float:
        """Rain fallen since the start of the demo (never decreasing)."""
        cycles, t = divmod(max(elapsed_s, 0.0), self.period_s + self.calm_s)
        x = min(t, self.period_s) / self.period_s
        burst = cycles + x - math.sin(2 * math.pi * x) / (2 * math.pi)
        return self.storm_mm * burst + self.drizzle_mm_per_s * max(elapsed_s, 0.0)

    def count(self, elapsed_s: float) -> int:
        return self.start_count + math.floor(self.rain_mm(elapsed_s) / self.bucket_mm + 1e-9)

    def values(self, elapsed_s: float) -> Mapping[str, float]:
        return {"rain_counter": float(self.count(elapsed_s))}


@dataclass(frozen=True)
class StormWeather:
    """Wind, pressure, temperature and humidity at Huế as the storm passes.

    The wind peaks at ``peak_wind`` (cấp 8 is 17.2–20.7 m/s) with gusts ``gust_factor`` times
    stronger, while the pressure bottoms out ``pressure_drop_hpa`` below its calm value: at 75 s
    of each cycle, after the rain peaks at Nam Đông (60 s) and before the river at Kim Long (90 s).
    """

    calm_wind: float = 2.5
    peak_wind: float = 19.0
    gust_factor: float = 1.4
    calm_pressure_hpa: float = 1009.0
    pressure_drop_hpa: float = 17.0
    period_s: float = 150.0
    calm_s: float = STORM_CYCLE_S - 150.0

    def values(self, elapsed_s: float) -> Mapping[str, float]:
        storm = storm_phase(elapsed_s, period_s=self.period_s, calm_s=self.calm_s)
        # Turbulence: a little unsteadiness, deterministic so the scenario stays pure.
        wind = self.calm_wind + (self.peak_wind - self.calm_wind) * storm
        wind = max(0.0, wind + 0.4 * math.sin(2 * math.pi * elapsed_s / 7.0))
        return {
            "wind_speed": round(wind, 1),
            "wind_gust": round(wind * self.gust_factor + 0.5, 1),
            # The north-easterly veers east-south-east as the storm comes ashore, and back.
            "wind_dir": round((30.0 + 85.0 * storm) % 360, 1),
            "air_temp": round(27.0 - 3.5 * storm + jitter(elapsed_s, 0.2), 1),
            "humidity": round(min(100.0, 78.0 + 19.0 * storm + jitter(elapsed_s, 0.5, 0.4)), 1),
            "pressure": round(
                self.calm_pressure_hpa
                - self.pressure_drop_hpa * storm
                + jitter(elapsed_s, 0.2, 0.8),
                1,
            ),
        }


@dataclass(frozen=True)
class RiverQuality:
    """The Hương at a water intake during the flood: muddy, dilute, a little less oxygen, more
    organic matter and coliform."""

    period_s: float = 180.0
    calm_s: float = STORM_CYCLE_S - 180.0
    lag_s: float = 10.0  # the turbid water arrives a little after the rise begins

    def values(self, elapsed_s: float) -> Mapping[str, float]:
        flood = storm_phase(elapsed_s, period_s=self.period_s, calm_s=self.calm_s, lag_s=self.lag_s)
        day = math.sin(2 * math.pi * elapsed_s / 240.0)
        return {
            "water_temp": round(26.5 - 1.7 * flood + 0.4 * day + jitter(elapsed_s, 0.04), 2),
            "ph": round(7.3 - 0.4 * flood + jitter(elapsed_s, 0.03, 0.3), 2),
            "do": round(7.4 - 1.1 * flood + 0.2 * day + jitter(elapsed_s, 0.04, 0.6), 2),
            "conductivity": round(180.0 - 85.0 * flood + jitter(elapsed_s, 1.0, 0.9), 1),
            "turbidity": round(8.0 + 410.0 * flood + jitter(elapsed_s, 0.6, 1.2), 1),
            "n_nh4": round(0.08 + 0.27 * flood + jitter(elapsed_s, 0.004, 1.5), 3),
            # Runoff brings organic matter and faecal bacteria: VN_WQI falls from "tốt" as the
            # flood passes (COD 6 → 20 mg/L, coliform 1 800 → 8 800 MPN/100 mL).
            "cod": round(6.0 + 14.0 * flood + jitter(elapsed_s, 0.2, 1.7), 2),
            "coliform": round(1800.0 + 7000.0 * flood + jitter(elapsed_s, 40.0, 1.9), 0),
        }


def sonde_wiper(elapsed_s: float, *, every_s: float = 150.0, for_s: float = 4.0) -> DeviceStatus:
    """The sonde's wiper clears the optics every few minutes; the values it holds meanwhile
    arrive with status "calibrating" (the profile maps the wiper cycle so) and are flagged."""
    if (elapsed_s % every_s) > every_s - for_s:
        return DeviceStatus.CALIBRATING
    return DeviceStatus.MEASURING


@dataclass(frozen=True)
class WastewaterOutlet:
    """The outlet of an industrial park's treatment plant, as the TT10 data file it sends.

    Status 01 (calibrating) once a cycle, as the analysers' daily zero check; the storm
    dilutes the effluent and raises the flow.
    """

    province: str = "TTH"
    facility: str = "KCNPHUBAI"
    code: str = "NT01"

    def file(self, elapsed_s: float, local_time: datetime) -> tuple[str, str]:
        """(file name, content) as the station's data logger writes them."""
        storm = storm_phase(elapsed_s, period_s=150.0, calm_s=STORM_CYCLE_S - 150.0)
        stamp = local_time.strftime("%Y%m%d%H%M%S")
        status = "01" if (elapsed_s % STORM_CYCLE_S) < 12 else "00"
        # Decimal commas, as many loggers write them; units as the circular's examples spell them.
        lines = [
            ("pH", f"{7.1 - 0.2 * storm:.2f}", "pH"),
            ("COD", f"{46.0 - 18.0 * storm:.1f}", "mg/l"),
            ("TSS", f"{18.0 + 25.0 * storm:.1f}", "mg/l"),
            ("NH4", f"{2.4 - 1.1 * storm:.2f}", "mg/l"),
            ("Temp", f"{29.5 - 2.5 * storm:.1f}", "oC"),
            ("Flow", f"{310.0 + 240.0 * storm:.1f}", "m3/h"),
        ]
        text = "".join(
            f"{symbol}\t{value.replace('.', ',')}\t{unit}\t{stamp}\t{status}\r\n"
            for symbol, value, unit in lines
        )
        return f"{self.province}_{self.facility}_{self.code}_{stamp}.txt", text


PHU_BAI_OUTLET = WastewaterOutlet()


# Nam Đông, on the upper Tả Trạch, gets a storm day's 320 mm in each burst; its logger has
# counted 183 420 tips since it was installed.
NAM_DONG = TippingBucketRain(start_count=183_420, storm_mm=320.0)
HUE_WEATHER = StormWeather()
VAN_NIEN = RiverQuality()


def station_scenario(
    station: StationConfig,
) -> tuple[Scenario, Callable[[float], DeviceStatus]]:
    """The simulated values of a station: the named ones of the Huế example, else by kind."""
    measuring: Callable[[float], DeviceStatus] = lambda _elapsed: DeviceStatus.MEASURING  # noqa: E731
    if station.id == "kim_long":
        return KIM_LONG.values, measuring
    if station.id == "phu_oc":
        return PHU_OC.values, radar_echo_lost
    if station.kind == "hydro":
        bd1, _bd2, bd3 = station.flood_levels.as_tuple() if station.flood_levels else (1, 2, 3)
        return FloodWave(base_m=0.6 * bd1, peak_m=bd3 + 0.3).values, measuring
    if station.kind == "air":
        return hue_air, measuring
    if station.kind == "water":
        return VAN_NIEN.values, sonde_wiper
    if station.kind == "rain":
        return NAM_DONG.values, measuring
    if station.kind == "weather":
        return HUE_WEATHER.values, measuring
    raise ValueError(f"{station.id}: no simulated scenario for a {station.kind} station yet")


def simulators_for(site: Site, stations: Iterable[StationConfig]) -> list[SimulatedEndpoint]:
    """One pymodbus server per endpoint of the site, with each station a slave on it."""
    by_endpoint: dict[str, tuple[Connection, list[SimulatedDevice]]] = {}
    for station in stations:
        if not station.is_modbus:
            continue  # MQTT and TT10 stations are simulated by their own drivers' tests
        connection = station.modbus.connection
        scenario, status = station_scenario(station)
        _, devices = by_endpoint.setdefault(connection.endpoint, (connection, []))
        devices.append(
            SimulatedDevice(station.modbus.unit, site.profile_of(station), scenario, status)
        )
    return [SimulatedEndpoint(connection, devices) for connection, devices in by_endpoint.values()]
