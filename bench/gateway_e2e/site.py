"""The benchmark's site: N Modbus TCP stations, one endpoint each, on the bench's profile."""

from __future__ import annotations

from pathlib import Path

import yaml

from bench.modbus_poll import HOST, VALUES
from gateway.parameters import registry

PROFILE = "bench_water_logger"


def station_id(number: int) -> str:
    return f"bench_{number:04d}"


def write_site(root: Path, ports: list[int], interval_s: float) -> Path:
    """site.yaml, the bench profile and one station per port; returns the site directory."""
    site = root / "site"
    (site / "profiles").mkdir(parents=True, exist_ok=True)
    (site / "stations").mkdir(exist_ok=True)
    (site / "site.yaml").write_text(
        yaml.safe_dump(
            {
                "name": "Gateway end-to-end bench",
                "province": "Thừa Thiên Huế",
                "timezone": "Asia/Ho_Chi_Minh",
                "gateway_id": "gw-bench",
                "profiles_dir": "profiles",
            },
            allow_unicode=True,
        ),
        encoding="utf-8",
    )
    profile = {
        "model": "Benchmark water-quality analyser, 10 × float32",
        "kind": "water",
        "registers": [
            {
                "param": param,
                "table": "holding",
                "address": 2 * index,
                "type": "float32",
                "unit": registry()[param].unit,
            }
            for index, param in enumerate(VALUES)
        ],
    }
    (site / "profiles" / f"{PROFILE}.yaml").write_text(
        yaml.safe_dump(profile, allow_unicode=True), encoding="utf-8"
    )
    stations = [
        {
            "id": station_id(number),
            "name": f"Bench {number}",
            "kind": "water",
            "district": "Phú Xuân",
            "source": {
                "driver": "modbus",
                "profile": PROFILE,
                "connection": {"transport": "tcp", "host": HOST, "port": port},
                "unit": 1,
                "interval_s": interval_s,
            },
        }
        for number, port in enumerate(ports)
    ]
    (site / "stations" / "bench.yaml").write_text(
        yaml.safe_dump({"stations": stations}, allow_unicode=True), encoding="utf-8"
    )
    return site
