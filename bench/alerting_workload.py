"""The alerting benchmark's synthetic site: water stations with one threshold rule per series,
flood probe gauges, and the readings they send (bench.alerting_latency)."""

from __future__ import annotations

import math
import resource
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from alerting.config import AlertingConfig
from gateway.config import StationConfig
from gateway.model import Quality, Reading
from quantrac.site import Site, SiteSettings

# param: (level, amplitude, unit, levels of its rule). The values follow a slow sine around the
# level (10 min period), within QC's rate limits, far from the rule's first level.
WATER: dict[str, tuple[float, float, str, list[dict[str, float]]]] = {
    "water_temp": (26.0, 0.5, "°C", [{"above": 35, "recovery": 34}, {"above": 40}]),
    "ph": (7.1, 0.1, "pH", [{"above": 8.5, "recovery": 8.4}, {"above": 9.0}]),
    "do": (6.5, 0.3, "mg/L", [{"below": 4.0, "recovery": 4.5}, {"below": 2.0}]),
    "cod": (12.0, 1.0, "mg/L", [{"above": 30, "recovery": 28}, {"above": 50}]),
    "bod5": (5.0, 0.5, "mg/L", [{"above": 15, "recovery": 14}, {"above": 25}]),
    "toc": (8.0, 0.5, "mg/L", [{"above": 20, "recovery": 19}, {"above": 30}]),
    "tss": (30.0, 3.0, "mg/L", [{"above": 100, "recovery": 90}, {"above": 200}]),
    "turbidity": (15.0, 2.0, "NTU", [{"above": 50, "recovery": 45}, {"above": 100}]),
    "conductivity": (250.0, 10.0, "µS/cm", [{"above": 1500, "recovery": 1400}, {"above": 2500}]),
    "n_nh4": (0.3, 0.03, "mg/L", [{"above": 0.9, "recovery": 0.8}, {"above": 1.5}]),
}
PARAMS = list(WATER)
PERIOD_S = 600.0
PROBES = 10  # probe gauges, used in turn
PROBE_BASE = {True: 1.5, False: 0.5}  # above BĐ I (1.0 m), and back below it
PROBE_STEP = 1e-5  # the probe's number, in its value
FLOOD_LEVELS = {"bd1": 1.0, "bd2": 2.0, "bd3": 3.0}
SECRET_ENV = "BENCH_IOC_SECRET"
SMS_TOKEN_ENV = "BENCH_SMS_TOKEN"
HANG_S = 30.0  # "hang": the IOC answers after this long (the webhook's timeout is 10 s)
T0 = datetime(2026, 11, 22, 0, 0, tzinfo=UTC)
TARGET_E2E_S = 1.0
FAILING = ("none", "500", "hang")
TARGET_BATCH_S = 0.001
TARGET_RSS_MB = 300.0
DRAIN_S = 3.0


# -- the synthetic site ----------------------------------------------------------------------------


def bench_alerting(base_url: str) -> AlertingConfig:
    """Everything to the IOC webhook (``/ioc``) and to the committee's SMS (two members, a
    gateway on ``/sms`` through the ``custom`` provider, whose body carries the notification's
    key): one receiver per channel, each with its own delivery queue."""
    return AlertingConfig.model_validate(
        {
            "notifiers": {
                "webhook": {"url": f"{base_url}/ioc", "secret_env": SECRET_ENV},
                "sms": {
                    "provider": "custom",
                    "sender": "QUANTRAC",
                    "secret_env": {"token": SMS_TOKEN_ENV},
                    "request": {
                        "method": "POST",
                        "url": f"{base_url}/sms",
                        "body": "json",
                        "fields": {"phone": "{phone}", "text": "{text}", "key": "{key}"},
                    },
                },
            },
            "routing": {
                "recipients": {
                    "ban_chi_huy": {
                        "channels": ["sms"],
                        "members": [
                            {"name": "Văn phòng BCH", "phone": "0905000001"},
                            {"name": "Chánh văn phòng", "phone": "0905000002"},
                        ],
                    }
                },
                "endpoints": {"ioc": "webhook"},
                "routes": [{"to": ["ioc", "ban_chi_huy"]}],
                "group_wait_s": 0,
            },
        }
    )


def station_ids(series: int) -> list[str]:
    return [f"wq{i:05d}" for i in range(math.ceil(series / len(PARAMS)))]


def probe_ids() -> list[str]:
    return [f"probe{i:02d}" for i in range(PROBES)]


def bench_stations(series: int) -> dict[str, StationConfig]:
    """Water-quality stations of ten parameters, and the probe gauges (hydro, BĐ I/II/III)."""
    out: dict[str, StationConfig] = {}
    for i, sid in enumerate(station_ids(series)):
        out[sid] = StationConfig.model_validate(
            {
                "id": sid,
                "name": f"Trạm chất lượng nước {i}",
                "kind": "water",
                "district": f"Huyện {i % 9}",
                "source": {"driver": "tt10", "code": f"WQ{i}"},
            }
        )
    for sid in probe_ids():
        out[sid] = StationConfig.model_validate(
            {
                "id": sid,
                "name": f"Trạm đo thử {sid}",
                "kind": "hydro",
                "district": "Phú Vang",
                "river": "Hương",
                "source": {"driver": "tt10", "code": sid.upper()},
                "flood_levels": FLOOD_LEVELS,
                # A probe jumps a metre every few seconds: the spike and outlier checks,
                # made to catch exactly that, are off for the probes' series.
                "qc": {"water_level": {"max_rate_per_min": None, "hampel_window": None}},
            }
        )
    return out


def bench_rules(series: int, rules: int) -> list[dict[str, Any]]:
    """One threshold rule per series, for the first ``rules`` series; the probes' flood rule."""
    keys = [(sid, param) for sid in station_ids(series) for param in PARAMS][:series]
    document: list[dict[str, Any]] = [
        {
            "id": f"r_{sid}_{param}",
            "type": "threshold",
            "stations": [sid],
            "param": param,
            "kind": "water",
            "levels": WATER[param][3],
        }
        for sid, param in keys[:rules]
    ]
    document.append(
        {
            "id": "probe_flood",
            "type": "threshold",
            "stations": probe_ids(),
            "param": "water_level",
            "from_station": "flood_levels",
            "hysteresis": 0.05,
            "kind": "flood",
        }
    )
    return document


def background_value(param: str, station: int, t_s: float) -> float:
    level, amplitude, _, _ = WATER[param]
    phase = (station * 0.61803 + PARAMS.index(param) * 0.1) * 2 * math.pi
    return level + amplitude * math.sin(2 * math.pi * t_s / PERIOD_S + phase)


def station_batch(
    sid: str, index: int, ts: datetime, t_s: float, quality: Quality, count: int = 10
) -> list[Reading]:
    # A datetime per reading, as decode_batch makes them: the rate windows keep them.
    return [
        Reading(sid, p, background_value(p, index, t_s), WATER[p][2], ts.replace(), quality=quality)
        for p in PARAMS[:count]
    ]


def site_of(series: int, directory: Path) -> Site:
    return Site(directory, SiteSettings(name="bench"), bench_stations(series))


def percentile(values: Sequence[float], q: float) -> float:
    ordered = sorted(values)
    if not ordered:
        return math.nan
    return ordered[min(len(ordered) - 1, max(0, math.ceil(q * len(ordered)) - 1))]


def rss_now_mb() -> float:
    with open("/proc/self/status", encoding="ascii") as status:
        for line in status:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return math.nan


def peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
