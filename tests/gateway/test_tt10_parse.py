"""The pure TT10 parser: tables, and the folder of sample files ``tests/cases/tt10/<case>/``.

Each case has ``case.yaml`` (the station: id, kind, TT10 code; and ``now``, the clock the
future check uses), one data file named as a station names it, and ``expected.yaml``: either
``readings`` (with the default ``ts`` and ``status``) and the ``skipped`` lines, or ``rejected``
(the line and substrings of the reason). The inbox driver runs the same cases
(test_tt10_inbox.py).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import yaml

from gateway.config import StationConfig
from gateway.model import DeviceStatus, Reading
from gateway.parameters import registry
from gateway.tt10.parse import (
    Tt10FileRejected,
    Tt10Station,
    convert_unit,
    parse_file_name,
    parse_local_time,
    parse_tt10,
    parse_value,
    resolve_parameter,
    stations_by_code,
)
from tests.conftest import REPO

CASES_DIR = REPO / "tests" / "cases" / "tt10"
CASES = sorted(p.name for p in CASES_DIR.iterdir() if p.is_dir())


@dataclass(frozen=True, slots=True)
class ExpectedReading:
    value: float
    ts: datetime
    status: DeviceStatus


@dataclass(frozen=True)
class Tt10Case:
    name: str
    file: Path
    station: StationConfig
    now: datetime
    readings: dict[str, ExpectedReading]
    skipped: dict[int, str]  # line → reason substring
    rejected_line: int | None  # None: the file is accepted
    rejected_reason: tuple[str, ...]

    @property
    def stations(self) -> dict[str, Tt10Station]:
        return stations_by_code([self.station])


def _utc(value: Any) -> datetime:
    when = value if isinstance(value, datetime) else datetime.fromisoformat(str(value))
    return when.astimezone(UTC)


def load_case(name: str) -> Tt10Case:
    folder = CASES_DIR / name
    case = yaml.safe_load((folder / "case.yaml").read_text(encoding="utf-8"))
    expected: dict[str, Any] = yaml.safe_load(
        (folder / "expected.yaml").read_text(encoding="utf-8")
    )
    unknown = set(expected) - {"ts", "status", "readings", "skipped", "rejected"}
    assert not unknown, f"{name}/expected.yaml: unknown keys {sorted(unknown)}"
    (file,) = [p for p in folder.iterdir() if p.suffix.lower() == ".txt"]
    spec = case["station"]
    station = StationConfig.model_validate(
        {
            "id": spec["id"],
            "name": spec["id"],
            "kind": spec["kind"],
            "district": "test",
            "source": {"driver": "tt10", "code": spec["code"]},
        }
    )
    readings: dict[str, ExpectedReading] = {}
    default_status = DeviceStatus[str(expected.get("status", "measuring")).upper()]
    for param, item in (expected.get("readings") or {}).items():
        item = item if isinstance(item, dict) else {"value": item}
        readings[str(param)] = ExpectedReading(
            float(item["value"]),
            _utc(item.get("ts", expected.get("ts"))),
            DeviceStatus[str(item.get("status", default_status.name)).upper()],
        )
    rejected = expected.get("rejected")
    return Tt10Case(
        name=name,
        file=file,
        station=station,
        now=_utc(case["now"]),
        readings=readings,
        skipped={int(s["line"]): str(s["reason"]) for s in expected.get("skipped") or []},
        rejected_line=None if rejected is None else int(rejected["line"]),
        rejected_reason=tuple(rejected["reason"]) if rejected else (),
    )


def assert_readings(case: Tt10Case, readings: tuple[Reading, ...] | list[Reading]) -> None:
    got = {r.param: r for r in readings}
    assert len(got) == len(readings), f"{case.name}: a parameter twice"
    assert sorted(got) == sorted(case.readings), f"{case.name}: parameters"
    for param, want in case.readings.items():
        reading = got[param]
        where = f"{case.name}: {param}"
        assert reading.station == case.station.id, where
        assert reading.value == pytest.approx(want.value, rel=1e-12), where
        assert reading.unit == registry()[param].unit, where
        assert reading.ts == want.ts, where
        assert reading.ts.utcoffset() == timedelta(0), where
        assert reading.status is want.status, where


def assert_reason(case: Tt10Case, reason: str) -> None:
    for part in case.rejected_reason:
        assert part in reason, f"{case.name}: {part!r} not in {reason!r}"


def test_the_cases_folder_has_the_required_samples() -> None:
    assert {
        "air_good",
        "air_decimal_comma",
        "air_unknown_parameter",
        "air_truncated",
        "air_wrong_timestamp",
        "air_status_calibrating_and_error",
        "water_wastewater_plant",
    } <= set(CASES)


@pytest.mark.parametrize("name", CASES)
def test_case_through_the_pure_parser(name: str) -> None:
    case = load_case(name)
    content = case.file.read_bytes()
    if case.rejected_line is not None:
        with pytest.raises(Tt10FileRejected) as caught:
            parse_tt10(case.file.name, content, case.stations, now=case.now)
        problem = caught.value.problem
        assert problem.line == case.rejected_line, str(problem)
        assert str(problem).startswith(case.file.name), "the reason names the file"
        assert_reason(case, problem.reason)
        return
    parsed = parse_tt10(case.file.name, content, case.stations, now=case.now)
    assert parsed.station == case.station.id
    assert_readings(case, parsed.readings)
    assert {p.line: p.reason for p in parsed.skipped}.keys() == case.skipped.keys()
    for problem in parsed.skipped:
        assert case.skipped[problem.line] in problem.reason, str(problem)
        assert str(problem).startswith(f"{case.file.name}:{problem.line}: ")


# -- tables ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "value"),
    [
        ("35.5", 35.5),
        ("35,5", 35.5),
        ("-9999", -9999.0),
        ("0", 0.0),
        ("+7,12", 7.12),
        (",5", 0.5),
        ("1.5e3", 1500.0),
        ("12.", 12.0),
    ],
)
def test_values(text: str, value: float) -> None:
    assert parse_value(text) == value


@pytest.mark.parametrize("text", ["n/a", "1.234,5", "1,234.5", "NaN", "inf", "", "12..5", "-"])
def test_values_refused(text: str) -> None:
    with pytest.raises(ValueError, match="not a number"):
        parse_value(text)


@pytest.mark.parametrize(
    ("symbol", "kind", "param"),
    [
        ("PM2,5", "air", "pm25"),
        ("PM2.5", "air", "pm25"),
        ("PM10", "air", "pm10"),
        ("PM", "air", "tsp"),
        ("NO2", "air", "no2"),
        ("NO2", "water", "n_no2"),
        ("NO", "air", "no"),
        ("Temp", "air", "air_temp"),
        ("Temp", "water", "water_temp"),
        ("Temp", "weather", "air_temp"),
        ("RH", "air", "humidity"),
        ("P", "air", "pressure"),
        ("NH4", "water", "n_nh4"),
        ("Flow", "water", "flow"),
        ("Color", "water", "color"),
        ("Cl", "water", "chloride"),
        ("pH", "water", "ph"),
    ],
)
def test_symbols_by_station_kind(symbol: str, kind: str, param: str) -> None:
    assert resolve_parameter(symbol, kind).name == param


@pytest.mark.parametrize(
    ("param", "unit", "value", "expected"),
    [
        ("pm25", "µg/m³", 35.5, 35.5),
        ("pm25", "ug/m3", 35.5, 35.5),
        ("pm25", "µg/Nm3", 35.5, 35.5),
        ("pm25", "μg/Nm3", 35.5, 35.5),  # Greek mu
        ("co", "mg/Nm3", 0.95, 950.0),
        ("so2", "mg/m3", 0.05, 50.0),
        ("air_temp", "oC", 27.4, 27.4),
        ("air_temp", "°C", 27.4, 27.4),
        ("air_temp", "ºC", 27.4, 27.4),  # masculine ordinal, common on VN keyboards
        ("water_temp", "C", 29.8, 29.8),
        ("flow", "m3/h", 312.5, 312.5),
        ("flow", "m3/s", 0.5, 1800.0),
        ("flow", "l/s", 10.0, 36.0),
        ("cod", "mg/l", 45.3, 45.3),
        ("cod", "mg/L", 45.3, 45.3),
        ("ph", "pH", 7.1, 7.1),
        ("ph", "-", 7.1, 7.1),
        ("humidity", "%", 81.0, 81.0),
        ("pressure", "kPa", 101.3, 1013.0),
        ("conductivity", "mS/cm", 1.2, 1200.0),
    ],
)
def test_units(param: str, unit: str, value: float, expected: float) -> None:
    assert convert_unit(value, unit, registry()[param]) == pytest.approx(expected)


@pytest.mark.parametrize(
    ("param", "unit"),
    [("so2", "ppm"), ("no2", "ppb"), ("cod", "g/l"), ("air_temp", "K"), ("flow", "m3")],
)
def test_units_refused(param: str, unit: str) -> None:
    with pytest.raises(ValueError, match="not convertible"):
        convert_unit(1.0, unit, registry()[param])


def test_local_time_is_utc_plus_7() -> None:
    assert parse_local_time("20261122163000") == datetime(2026, 11, 22, 9, 30, tzinfo=UTC)
    assert parse_local_time("20270101050000") == datetime(2026, 12, 31, 22, 0, tzinfo=UTC)


@pytest.mark.parametrize("text", ["2026112216300", "20261322163000", "20261122256000", "x" * 14])
def test_local_times_refused(text: str) -> None:
    with pytest.raises(ValueError, match="timestamp"):
        parse_local_time(text)


@pytest.mark.parametrize(
    ("name", "province", "facility", "code"),
    [
        ("TTH_QTMTKK_KK01_20261122163000.txt", "TTH", "QTMTKK", "KK01"),
        ("tth_nha_may_bia_kt02_20261122163000.TXT", "tth", "nha_may_bia", "KT02"),
    ],
)
def test_file_names(name: str, province: str, facility: str, code: str) -> None:
    parsed = parse_file_name(name)
    assert (parsed.province, parsed.facility, parsed.code) == (province, facility, code)
    assert parsed.time == datetime(2026, 11, 22, 9, 30, tzinfo=UTC)


@pytest.mark.parametrize(
    "name",
    [
        "KK01_20261122163000.txt",
        "TTH_QTMTKK_KK01.txt",
        "TTH_QTMTKK_KK01_20261122163000.csv",
        "TTH__KK01_20261122163000.txt",
        "TTH_QTMTKK_KK01_2026-11-22.txt",
    ],
)
def test_file_names_refused(name: str) -> None:
    with pytest.raises(ValueError, match=r"file name|timestamp"):
        parse_file_name(name)


# -- rejection policy, line by line ---------------------------------------------------------

NOW = datetime(2026, 11, 22, 10, 0, tzinfo=UTC)
NAME = "TTH_QTMTKK_KK01_20261122163000.txt"
STATIONS = {"KK01": Tt10Station("kk_hue", "air")}


def _parse(text: str | bytes, name: str = NAME) -> tuple[list[Reading], list[str]]:
    content = text.encode() if isinstance(text, str) else text
    parsed = parse_tt10(name, content, STATIONS, now=NOW)
    return list(parsed.readings), [str(p) for p in parsed.skipped]


def _rejected(text: str | bytes, name: str = NAME) -> str:
    content = text.encode() if isinstance(text, str) else text
    with pytest.raises(Tt10FileRejected) as caught:
        parse_tt10(name, content, STATIONS, now=NOW)
    return str(caught.value)


def test_a_complete_last_line_without_a_line_end_is_accepted() -> None:
    readings, skipped = _parse("PM10\t61\tug/m3\t20261122163000\t00")
    assert [r.value for r in readings] == [61.0]
    assert skipped == []


def test_a_utf8_bom_and_blank_lines_are_ignored() -> None:
    readings, skipped = _parse(
        "\ufeffPM10 61 ug/m3 20261122163000 00\n\n  \nO3 80 ug/m3 20261122163000 00\n"
    )
    assert [r.param for r in readings] == ["pm10", "o3"]
    assert skipped == []


def test_utf16_with_a_bom_is_read() -> None:
    readings, _ = _parse("PM10\t61\tµg/Nm3\t20261122163000\t00\r\n".encode("utf-16"))
    assert [r.value for r in readings] == [61.0]


def test_a_parameter_given_twice_keeps_the_first_line() -> None:
    readings, skipped = _parse(
        "PM2,5 35 ug/m3 20261122163000 00\nPM2.5 36 ug/m3 20261122163000 00\n"
    )
    assert [r.value for r in readings] == [35.0]
    assert skipped == [f"{NAME}:2: pm25: given twice in the file; the first line is kept"]


@pytest.mark.parametrize(
    ("line", "reason"),
    [
        ("PM10 61 ug/m3 20261122163000 3", "status '3' is not 00, 01 or 02"),
        ("PM10 61 ug/m3 20261122163000 09", "unknown TT10 status '09'"),
        ("PM10 61 ug/m3 20261122163000", "4 field(s), expected 5"),
        ("PM10 61 ug m3 20261122163000 00", "6 field(s), expected 5"),
        ("XYZ 61 ug/m3 20261122163000 00", "unknown parameter 'XYZ'"),
        ("PM10 61 ppm 20261122163000 00", "unit 'ppm' is not µg/m³ for pm10"),
    ],
)
def test_a_bad_line_is_skipped_and_named(line: str, reason: str) -> None:
    readings, skipped = _parse(f"O3 80 ug/m3 20261122163000 00\n{line}\n")
    assert [r.param for r in readings] == ["o3"]
    assert len(skipped) == 1
    assert skipped[0].startswith(f"{NAME}:2: ")
    assert reason in skipped[0]


@pytest.mark.parametrize(
    ("text", "reason"),
    [
        ("", "truncated: the file is empty"),
        ("\r\n \n", "truncated: the file is empty"),
        ("O3 80 ug/m3 20261122163000 00\nPM10 61 ug/m3 2026112216300", ":2: truncated"),
        ("O3 80 ug/m3 20261122163000 00\nPM10 61 ug/m3 20261122163000 0", ":2: truncated"),
        ("O3 80 ug/m3 20261122163000 00\nPM1", ":2: truncated"),
        ("O3 80 ug/m3 2026-11-22T16:30 00\n", ":1: wrong timestamp"),
        ("O3 80 ug/m3 20261122183100 00\n", "in the future by 91 min"),
        ("O3 80 ug/m3 20261121163000 00\n", "24.0 h from the file name"),
        (
            "O3 80 ug/m3 20261122163000 00\n".encode("cp1252") + b"PM10 61 \xb5g/m3",
            ":2: unreadable",
        ),
        (b"O3 80 ug/m3 20261122163000 00\x00\n", "NUL bytes"),
    ],
)
def test_a_file_is_rejected_whole(text: str | bytes, reason: str) -> None:
    assert reason in _rejected(text)


def test_the_file_name_time_in_the_future_rejects_the_file() -> None:
    assert "in the future" in _rejected(
        "O3 80 ug/m3 20261123163000 00\n", "TTH_QTMTKK_KK01_20261123163000.txt"
    )


def test_an_old_file_is_accepted_with_its_own_time() -> None:
    # A station re-sending its backlog after an outage: device time is kept (DESIGN).
    readings, _ = _parse("O3 80 ug/m3 20260101000000 00\n", "TTH_QTMTKK_KK01_20260101000000.txt")
    assert readings[0].ts == datetime(2025, 12, 31, 17, 0, tzinfo=UTC)


def test_station_codes_are_unique() -> None:
    def station(sid: str, code: str) -> StationConfig:
        return StationConfig.model_validate(
            {
                "id": sid,
                "name": sid,
                "kind": "air",
                "district": "x",
                "source": {"driver": "tt10", "code": code},
            }
        )

    assert stations_by_code([station("a", "kk01")]) == {"KK01": Tt10Station("a", "air")}
    with pytest.raises(ValueError, match="used by both a and b"):
        stations_by_code([station("a", "KK01"), station("b", "kk01")])
