"""A site directory: ``site.yaml`` plus ``stations/*.yaml``, validated as a whole.

Loading never stops at the first mistake: a technician fixing a config wants every problem,
each naming the file, the station and the field.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import tzinfo
from pathlib import Path
from typing import Any

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from gateway.config import MqttSource, StationConfig
from gateway.model import zone_of
from gateway.mqtt_input.profile import MqttProfile
from gateway.mqtt_input.routing import Route, route_conflicts
from gateway.profiles import (
    DeviceProfile,
    Profile,
    ProfileError,
    default_profiles_dir,
    load_profiles,
)
from gateway.tt10.forward_config import Tt10ForwardConfig
from gateway.tt10.parse import stations_by_code
from quantrac.reports.config import ReportsConfig


@dataclass(frozen=True, slots=True)
class ConfigProblem:
    file: Path
    station: str | None
    field: str
    message: str

    def __str__(self) -> str:
        parts = [str(self.file)]
        if self.station:
            parts.append(f"station {self.station}")
        if self.field:
            parts.append(self.field)
        parts.append(self.message)
        return ": ".join(parts)


class SiteConfigError(Exception):
    def __init__(self, problems: list[ConfigProblem]) -> None:
        self.problems = problems
        lines = "\n".join(f"  - {p}" for p in problems)
        super().__init__(f"{len(problems)} problem(s) in the site config:\n{lines}")


class SiteSettings(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str
    province: str = ""
    # The stations' local time: naive device times, daily windows, every time people read.
    timezone: str = "Asia/Ho_Chi_Minh"
    gateway_id: str = "gw-1"
    # The site's own profiles, relative to the site directory, read after firmware_configs/.
    profiles_dir: Path | None = None
    # Daily and monthly reports: when, to whom (docs/reports.md).
    reports: ReportsConfig = Field(default_factory=ReportsConfig)
    # TT10 files forwarded upstream by the gateway (docs/tt10.md, "Forwarding upstream").
    tt10_forward: Tt10ForwardConfig | None = None

    @field_validator("timezone")
    @classmethod
    def _known_zone(cls, value: str) -> str:
        zone_of(value)  # raises ValueError naming it
        return value

    @property
    def zone(self) -> tzinfo:
        """The site's time zone (Asia/Ho_Chi_Minh: a fixed UTC+7, no tz data needed)."""
        return zone_of(self.timezone)


@dataclass
class Site:
    directory: Path
    settings: SiteSettings
    stations: dict[str, StationConfig]
    profiles: dict[str, DeviceProfile] = field(default_factory=dict)
    # MQTT payload profiles (protocol: mqtt), from profiles_dir and its mqtt/ folder.
    mqtt_profiles: dict[str, MqttProfile] = field(default_factory=dict)
    # Stations with enabled: false: in the files, out of every service (not in ``stations``).
    disabled: dict[str, StationConfig] = field(default_factory=dict)
    files: dict[str, Path] = field(default_factory=dict)  # station id → the file it is in
    profile_files: dict[str, Path] = field(default_factory=dict)  # profile id → its file
    # What config check says without it being a problem: a site profile replacing a shipped one.
    notes: list[str] = field(default_factory=list)

    def profile_of(self, station: StationConfig) -> DeviceProfile:
        """The station's effective profile: its profile with the station's overrides."""
        source = station.modbus
        return self.profiles[source.profile].with_overrides(source.registers, source.status)

    def mqtt_profile_of(self, station: StationConfig) -> MqttProfile:
        """The payload profile of an MQTT station (raises TypeError for another driver)."""
        if not isinstance(station.source, MqttSource):
            raise TypeError(f"station {station.id} is read by {station.source.driver}, not MQTT")
        return self.mqtt_profiles[station.source.profile]


def _read_yaml(path: Path, problems: list[ConfigProblem]) -> Any:
    try:
        return yaml.safe_load(path.read_text(encoding="utf-8"))
    except OSError as exc:
        problems.append(ConfigProblem(path, None, "", f"cannot read: {exc.strerror}"))
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f"line {mark.line + 1}" if mark is not None else ""
        problems.append(ConfigProblem(path, None, where, f"not valid YAML: {exc}"))
    return None


def _validation_problems(
    path: Path, station: str | None, error: ValidationError
) -> list[ConfigProblem]:
    return [
        ConfigProblem(
            path, station, _location(item["loc"]), item["msg"].removeprefix("Value error, ")
        )
        for item in error.errors()
    ]


_UNION_TAGS = {
    "connection": {"tcp", "rtu", "rtu_over_tcp"},
    "source": {"modbus", "mqtt", "tt10"},
}


def _location(loc: tuple[int | str, ...]) -> str:
    """pydantic's error location as the YAML path a technician sees.

    pydantic puts the union member ("tcp", "modbus") after ``connection`` and ``source``;
    that is not a YAML key.
    """
    parts = [
        str(part)
        for index, part in enumerate(loc)
        if not (index and part in _UNION_TAGS.get(str(loc[index - 1]), ()))
    ]
    return ".".join(parts)


def _load_stations(
    path: Path, problems: list[ConfigProblem], stations: dict[str, StationConfig]
) -> dict[str, Path]:
    origin: dict[str, Path] = {}
    document = _read_yaml(path, problems)
    if document is None:
        return origin
    entries = document.get("stations") if isinstance(document, dict) else None
    if not isinstance(entries, list):
        problems.append(ConfigProblem(path, None, "stations", "expected a list of stations"))
        return origin
    for index, entry in enumerate(entries):
        label = str(entry.get("id")) if isinstance(entry, dict) and "id" in entry else None
        label = label or f"#{index + 1}"
        try:
            station = StationConfig.model_validate(entry)
        except ValidationError as exc:
            problems.extend(_validation_problems(path, label, exc))
            continue
        if station.id in stations:
            problems.append(ConfigProblem(path, station.id, "id", "defined twice"))
            continue
        stations[station.id] = station
        origin[station.id] = path
    return origin


def _check_overrides(
    stations: dict[str, StationConfig],
    profiles: dict[str, DeviceProfile],
    origin: dict[str, Path],
) -> list[ConfigProblem]:
    problems = []
    for station in stations.values():
        if not station.is_modbus:
            continue
        source = station.modbus
        profile = profiles.get(source.profile)
        if profile is None or (not source.registers and source.status is None):
            continue
        try:
            profile.with_overrides(source.registers, source.status)
        except ValidationError as exc:
            problems.extend(_validation_problems(origin[station.id], station.id, exc))
        except ValueError as exc:
            field = "source.status" if "status" in str(exc) else "source.registers"
            problems.append(ConfigProblem(origin[station.id], station.id, field, str(exc)))
    return problems


def _check_mqtt_routes(
    stations: dict[str, StationConfig],
    profiles: dict[str, MqttProfile],
    timezone: str,
    origin: dict[str, Path],
) -> list[ConfigProblem]:
    """Each MQTT station's topic fits its profile, and no message could go to two stations
    (one device id on two templates that share a topic: the order of the files would choose)."""
    problems = []
    routes: list[Route] = []
    for station in stations.values():
        source = station.source
        profile = profiles.get(getattr(source, "profile", ""))
        if not isinstance(source, MqttSource) or profile is None or not station.enabled:
            continue
        try:
            routes.append(Route.of(station, profile, timezone=timezone))
        except ValueError as exc:
            message = str(exc).removeprefix(f"station {station.id}: ")
            problems.append(ConfigProblem(origin[station.id], station.id, "source.topic", message))
    for first, second, topic in route_conflicts(routes):
        problems.append(
            ConfigProblem(
                origin[second.station.id],
                second.station.id,
                "source.topic",
                f"device id {second.device_id!r} on {second.topic} is also station "
                f"{first.station.id}'s, on {first.topic} ({origin[first.station.id]}): a message "
                f"on {topic} would go to whichever comes first in the files",
            )
        )
    return problems


def _check_shared_lines(
    stations: dict[str, StationConfig], origin: dict[str, Path]
) -> list[ConfigProblem]:
    """Stations on one line or endpoint share one hub: same settings, distinct unit ids."""
    problems = []
    first: dict[str, StationConfig] = {}
    units: dict[tuple[str, int], str] = {}
    for station in (s for s in stations.values() if s.is_modbus):
        connection = station.modbus.connection
        where = origin[station.id]
        other = first.setdefault(connection.endpoint, station)
        if other is not station and other.modbus.connection != connection:
            problems.append(
                ConfigProblem(
                    where,
                    station.id,
                    "source.connection",
                    f"{connection.endpoint} is also used by {other.id} with other settings",
                )
            )
        key = (connection.endpoint, station.modbus.unit)
        if key in units:
            problems.append(
                ConfigProblem(
                    where,
                    station.id,
                    "source.unit",
                    f"unit {station.modbus.unit} on {connection.endpoint} is already {units[key]}",
                )
            )
        units.setdefault(key, station.id)
    return problems


def load_site(directory: Path) -> Site:
    """Load and check a site directory; raise :class:`SiteConfigError` with every problem."""
    site, problems = read_site(directory)
    if problems:
        raise SiteConfigError(problems)
    return site


def read_site(directory: Path) -> tuple[Site, list[ConfigProblem]]:
    """The site as far as it loads, and every problem found: a station that does not load is
    left out, so the checks of the rest (and of the rules against them) still run."""
    problems: list[ConfigProblem] = []
    site_file = directory / "site.yaml"
    settings = SiteSettings(name=directory.name)
    if not site_file.is_file():
        problems.append(ConfigProblem(site_file, None, "", "missing (a site needs site.yaml)"))
    else:
        document = _read_yaml(site_file, problems)
        if document is not None:
            try:
                settings = SiteSettings.model_validate(document)
            except ValidationError as exc:
                problems.extend(_validation_problems(site_file, None, exc))

    stations: dict[str, StationConfig] = {}
    origin: dict[str, Path] = {}
    station_files = sorted((directory / "stations").glob("*.yaml"))
    if not station_files:
        problems.append(ConfigProblem(directory / "stations", None, "", "no station files"))
    for path in station_files:
        origin.update(_load_stations(path, problems, stations))

    profiles_dir = default_profiles_dir()
    if settings.profiles_dir:
        profiles_dir = directory / settings.profiles_dir
        if not profiles_dir.is_dir():
            problems.append(
                ConfigProblem(site_file, None, "profiles_dir", f"no folder {profiles_dir}")
            )
    loaded, profile_files, notes, profile_errors = _load_all_profiles(profiles_dir, problems)
    profiles = {k: v for k, v in loaded.items() if isinstance(v, DeviceProfile)}
    mqtt_profiles = {k: v for k, v in loaded.items() if isinstance(v, MqttProfile)}
    for error in profile_errors:
        problems.extend(ConfigProblem(error.path, None, "", p) for p in error.problems)
    for station in stations.values():
        wanted: str | None = getattr(station.source, "profile", None)
        if wanted is None:
            continue
        problem = _profile_problem(station, loaded.get(wanted))
        if wanted not in loaded and not any(e.path.stem == wanted for e in profile_errors):
            where = f"{default_profiles_dir()}" + (
                f" or {profiles_dir}" if settings.profiles_dir else ""
            )
            problem = f"no profile {wanted!r} in {where}"
        if problem:
            problems.append(
                ConfigProblem(origin[station.id], station.id, "source.profile", problem)
            )
    problems.extend(_check_overrides(stations, profiles, origin))
    problems.extend(_check_mqtt_routes(stations, mqtt_profiles, settings.timezone, origin))
    problems.extend(_check_shared_lines(stations, origin))
    try:
        stations_by_code(stations.values())
    except ValueError as exc:
        # Two TT10 stations with one file-name code: their files could not be told apart.
        station = next(s for s in reversed(stations.values()) if s.id in str(exc))
        problems.append(ConfigProblem(origin[station.id], station.id, "source.code", str(exc)))
    site = Site(
        directory=directory,
        settings=settings,
        stations={k: s for k, s in stations.items() if s.enabled},
        profiles=profiles,
        mqtt_profiles=mqtt_profiles,
        disabled={k: s for k, s in stations.items() if not s.enabled},
        files=origin,
        profile_files=profile_files,
        notes=notes,
    )
    return site, problems


def _load_all_profiles(
    site_dir: Path, problems: list[ConfigProblem]
) -> tuple[dict[str, Profile], dict[str, Path], list[str], list[ProfileError]]:
    """The shipped profiles (firmware_configs/ and its mqtt/), then the site's own on top: a
    site adds profiles, and one with a shipped profile's name replaces it (a note, not a
    problem). Two files of one name in one place are a problem."""
    shipped = default_profiles_dir()
    loaded: dict[str, Profile] = {}
    files: dict[str, Path] = {}
    notes: list[str] = []
    errors: list[ProfileError] = []
    for base in dict.fromkeys([shipped, site_dir]):  # the site's own folder may be the shipped
        if not base.is_dir():
            continue
        here: set[str] = set()
        for folder in (base, base / "mqtt"):
            if not folder.is_dir():
                continue
            found, failed = load_profiles(folder)
            errors.extend(failed)
            for name, profile in found.items():
                path = folder / f"{name}.yaml"
                if name in here:
                    problems.append(
                        ConfigProblem(path, None, "id", f"defined twice (also {files[name]})")
                    )
                    continue
                if name in files:
                    notes.append(f"{path}: profile {name} replaces the shipped {files[name]}")
                here.add(name)
                loaded[name], files[name] = profile, path
    return loaded, files, notes, errors


def _profile_problem(station: StationConfig, profile: Profile | None) -> str:
    """A Modbus station names a Modbus profile, an MQTT station an MQTT one."""
    if profile is None:
        return ""
    is_mqtt = isinstance(station.source, MqttSource)
    if is_mqtt and not isinstance(profile, MqttProfile):
        return f"{profile.id!r} is a Modbus profile; an MQTT station needs protocol: mqtt"
    if not is_mqtt and isinstance(profile, MqttProfile):
        return f"{profile.id!r} is an MQTT profile; a {station.source.driver} station cannot use it"
    return ""
