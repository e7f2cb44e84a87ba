"""The generated files: no drift from the generator, the SDK's round trip, Grafana's rules, the
provisioning contract with the production stack, the incidents the alerting service draws."""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
import yaml

from alerting.model import AlertKind, Notification, NotificationState, Severity
from alerting.notifiers.grafana import GrafanaConfig, annotation_tags
from quantrac.dashboards.build import STORES, generate, write
from quantrac.dashboards.catalog import BoardCatalog, catalog_of
from quantrac.dashboards.checks import grafana_problems, round_trip, threshold_problems
from quantrac.dashboards.provisioning import (
    DASHBOARDS_PATH,
    DATASOURCES_FILE,
    ENVIRONMENT,
    PROVIDERS_FILE,
)
from quantrac.dashboards.sdk import INFLUXDB_UID, VICTORIAMETRICS_UID
from quantrac.site import load_site
from tests.conftest import EXAMPLE_SITE, REPO

DASHBOARDS = REPO / "dashboards"


@pytest.fixture(scope="module")
def catalog() -> BoardCatalog:
    return catalog_of(load_site(EXAMPLE_SITE))


@pytest.fixture(scope="module")
def files(catalog: BoardCatalog) -> dict[str, str]:
    return generate(catalog)


def boards(files: dict[str, str]) -> dict[str, dict[str, Any]]:
    return {name: json.loads(text) for name, text in files.items() if name.endswith(".json")}


def test_dashboards_folder_is_what_the_generator_makes_for_the_example(
    files: dict[str, str],
) -> None:
    on_disk = {
        str(path.relative_to(DASHBOARDS)): path.read_text(encoding="utf-8")
        for path in DASHBOARDS.rglob("*")
        if path.is_file()
    }
    stale = sorted(name for name in files if on_disk.get(name) != files[name])
    extra = sorted(set(on_disk) - set(files))
    hint = "run `quantrac dashboards build examples/hue` and commit dashboards/"
    assert not stale, f"out of date: {stale}; {hint}"
    assert not extra, f"not generated: {extra}; {hint}"


def test_five_boards_in_each_flavour(files: dict[str, str]) -> None:
    for store in STORES:
        titles = [b["title"] for n, b in boards(files).items() if n.startswith(store)]
        assert titles == ["Toàn tỉnh", "Không khí", "Thủy văn", "Nước mặt", "Trạm"]


def test_every_board_survives_the_sdks_round_trip(files: dict[str, str]) -> None:
    for name, board in boards(files).items():
        assert round_trip(board) == [], name


def test_every_board_keeps_grafanas_rules(files: dict[str, str]) -> None:
    datasources = yaml.safe_load(files[DATASOURCES_FILE])["datasources"]
    uids = {d["uid"] for d in datasources}
    for name, board in boards(files).items():
        assert grafana_problems(board, uids) == [], name
        assert board["timezone"] == "Asia/Ho_Chi_Minh"
        assert [v["name"] for v in board["templating"]["list"]] == ["district", "station"]


def test_each_flavour_reads_its_own_store(files: dict[str, str]) -> None:
    for name, board in boards(files).items():
        wanted = INFLUXDB_UID if name.startswith("influxdb/") else VICTORIAMETRICS_UID
        for panel in board["panels"]:
            for target in panel.get("targets", []):
                uid = target["datasource"]["uid"]
                assert uid in (wanted, "quantrac-catalog"), f"{name} / {panel['title']}"


def test_the_checks_catch_what_grafana_would_refuse(files: dict[str, str]) -> None:
    board = json.loads(files["influxdb/thuy-van.json"])
    board["panels"][1]["id"] = board["panels"][0]["id"]
    board["panels"][2]["gridPos"]["x"] = 20
    board["panels"][3]["targets"][0]["datasource"]["uid"] = "somewhere-else"
    board["panels"][4]["targets"][0]["query"] += " AND $basin"
    problems = "\n".join(grafana_problems(board, {INFLUXDB_UID}))
    assert "panel ids are not unique" in problems
    assert "outside the 24 columns" in problems
    assert "'somewhere-else' is not in the provisioning file" in problems
    assert "$basin is not defined" in problems


@pytest.mark.parametrize(
    ("steps", "problem"),
    [
        ([{"value": None, "color": "#00E400"}, {"value": 51, "color": "#FFFF00"}], None),
        ([{"value": 0, "color": "#00E400"}], "open below"),
        (
            [
                {"value": None, "color": "green"},
                {"value": 9, "color": "red"},
                {"value": 3, "color": "red"},
            ],
            "ascend",
        ),
        ([{"value": None, "color": "greenish"}], "not a colour"),
        ([{"value": None, "color": "#00E4"}], "not a colour"),
        ([{"value": None, "color": "rgba(0, 211, 255, 1)"}], None),
        ([{"value": None, "color": "transparent"}], None),
    ],
)
def test_threshold_rules(steps: list[dict[str, Any]], problem: str | None) -> None:
    found = threshold_problems("x", {"mode": "absolute", "steps": steps})
    if problem is None:
        assert found == []
    else:
        assert any(problem in p for p in found), found


def test_thresholds_are_the_decisions_colours(files: dict[str, str]) -> None:
    air = json.loads(files["influxdb/khong-khi.json"])
    aqi = next(p for p in air["panels"] if p["title"] == "VN_AQI giờ")
    steps = aqi["fieldConfig"]["defaults"]["thresholds"]["steps"]
    assert [(s["value"], s["color"]) for s in steps] == [
        (None, "#00E400"), (51, "#FFFF00"), (101, "#FF7E00"),
        (151, "#FF0000"), (201, "#8F3F97"), (301, "#7E0023"),
    ]  # fmt: skip
    hydro = json.loads(files["influxdb/thuy-van.json"])
    kim_long = next(p for p in hydro["panels"] if p["title"] == "Mực nước Kim Long (sông Hương)")
    marks = kim_long["fieldConfig"]["defaults"]["thresholds"]["steps"]
    assert [s["value"] for s in marks] == [None, 1.0, 2.0, 3.5]  # BĐ I/II/III of Kim Long
    pm25 = next(p for p in air["panels"] if p["title"].startswith("PM2.5"))
    assert [s["value"] for s in pm25["fieldConfig"]["defaults"]["thresholds"]["steps"]] == [
        None,
        45,
    ]


def test_provisioning_names_the_uids_and_paths_the_stack_mounts(files: dict[str, str]) -> None:
    datasources = yaml.safe_load(files[DATASOURCES_FILE])["datasources"]
    by_uid = {d["uid"]: d for d in datasources}
    assert by_uid[INFLUXDB_UID]["type"] == "influxdb"
    assert by_uid[VICTORIAMETRICS_UID]["type"] == "prometheus"
    providers = yaml.safe_load(files[PROVIDERS_FILE])["providers"]
    assert [p["options"]["path"] for p in providers] == [DASHBOARDS_PATH]
    settings = [
        line
        for line in (files[DATASOURCES_FILE] + files[PROVIDERS_FILE]).splitlines()
        if not line.lstrip().startswith("#")
    ]
    used = set(re.findall(r"\$([A-Z_]+)", "\n".join(settings)))
    assert used == set(ENVIRONMENT)
    docs = (REPO / "docs" / "dashboards.md").read_text(encoding="utf-8")
    for name in ENVIRONMENT:
        assert f"`{name}`" in docs, f"docs/dashboards.md must list {name}"
    for datasource in datasources:  # no secret is written, only the variable that holds it
        for value in (datasource.get("secureJsonData") or {}).values():
            assert re.fullmatch(r"(Token )?\$[A-Z_]+", value), value


@pytest.mark.parametrize("kind", list(AlertKind))
def test_the_boards_show_the_annotations_the_alerting_service_posts(kind: AlertKind) -> None:
    """alerting/notifiers/grafana.py tags every annotation with its configured tags (default
    "quantrac") besides kind:, station:…; every board's annotation query asks for those."""
    notification = Notification(
        key="k",
        state=NotificationState.FIRING,
        kind=kind,
        severity=Severity.CRITICAL,
        level=2,
        title="[BÁO ĐỘNG II] Sông Hương tại Kim Long",
        text="…",
        text_en="…",
        created_at=datetime(2026, 12, 5, tzinfo=UTC),
        incidents=("i-1",),
        stations=("kim_long",),
    )
    default = GrafanaConfig(url="http://grafana:3000", token_env="GRAFANA_TOKEN")
    tags = set(annotation_tags(notification, default.tags))
    for path in sorted(DASHBOARDS.glob("*/*.json")):
        board = json.loads(path.read_text(encoding="utf-8"))
        [incidents] = [a for a in board["annotations"]["list"] if a["name"] == "Sự cố"]
        assert incidents["enable"] is True, path
        assert incidents["target"]["matchAny"] is False  # all of its tags must be there
        assert set(incidents["target"]["tags"]) <= tags, path


def test_write_removes_boards_it_no_longer_makes(tmp_path: Path, files: dict[str, str]) -> None:
    (tmp_path / "influxdb").mkdir()
    (tmp_path / "influxdb" / "old-board.json").write_text("{}")
    write(files, tmp_path)
    assert not (tmp_path / "influxdb" / "old-board.json").exists()
    assert (tmp_path / "influxdb" / "toan-tinh.json").read_text() == files[
        "influxdb/toan-tinh.json"
    ]
