"""Shared MQTT-station fixtures: one station per shipped MQTT profile, and its decoder."""

from __future__ import annotations

from gateway.config import StationConfig
from gateway.mqtt_input.payload import MqttDecoder, Route
from gateway.mqtt_input.profile import MqttProfile
from gateway.profiles import default_profiles_dir, load_mqtt_profile

PROFILES: dict[str, MqttProfile] = {
    name: load_mqtt_profile(default_profiles_dir() / "mqtt" / f"{name}.yaml")
    for name in (
        "aqi_sensor_mqtt_json",
        "water_level_mqtt_nested",
        "water_quality_mqtt_array",
        "rain_gauge_mqtt_numeric",
    )
}

# (station id, kind, profile, device id)
STATIONS = (
    ("hue_air_2", "air", "aqi_sensor_mqtt_json", None),
    ("kim_long_2", "hydro", "water_level_mqtt_nested", "WL-0042"),
    ("song_huong_wq", "water", "water_quality_mqtt_array", "sonde-7"),
    ("a_luoi_rain", "weather", "rain_gauge_mqtt_numeric", None),
)


def station_configs() -> list[StationConfig]:
    return [
        StationConfig.model_validate(
            {
                "id": station,
                "name": station,
                "kind": kind,
                "district": "Huế",
                "source": {
                    "driver": "mqtt",
                    "profile": profile,
                    **({"device_id": device} if device else {}),
                },
            }
        )
        for station, kind, profile, device in STATIONS
    ]


def routes() -> list[Route]:
    return [Route.of(s, PROFILES[s.source.profile]) for s in station_configs()]  # type: ignore[union-attr]


def decoder() -> MqttDecoder:
    return MqttDecoder(routes())
