"""``quantrac dashboards build`` and ``push``, the push against a loopback server that speaks
Grafana's folder and dashboard API (tests/dashboards/fake_grafana.py: Grafana itself cannot be
installed on these machines)."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from typer.testing import CliRunner

from quantrac.cli import app
from quantrac.dashboards.provisioning import FOLDER_TITLE, FOLDER_UID
from quantrac.dashboards.push import PushError, boards_in, client_for, push
from tests.conftest import EXAMPLE_SITE, REPO
from tests.dashboards.fake_grafana import FakeGrafana
from tests.servers import free_port

TOKEN = "glsa_test_token"
BUILT = REPO / "dashboards"
UIDS = {
    "quantrac-toan-tinh",
    "quantrac-khong-khi",
    "quantrac-thuy-van",
    "quantrac-nuoc-mat",
    "quantrac-tram",
}


def test_push_creates_the_folder_and_the_boards_then_changes_nothing() -> None:
    boards = boards_in(BUILT / "influxdb")
    with FakeGrafana(TOKEN) as grafana:
        first = push(client_for(grafana.url, TOKEN), boards)
        assert first.folder_created
        assert set(first.created) == UIDS
        assert grafana.state.folders[FOLDER_UID]["title"] == FOLDER_TITLE
        stored = grafana.state.dashboards["quantrac-thuy-van"]
        assert stored["meta"]["folderUid"] == FOLDER_UID
        assert stored["dashboard"]["title"] == "Thủy văn"
        writes = len(grafana.writes())
        again = push(client_for(grafana.url, TOKEN), boards)
        assert not again.folder_created
        assert set(again.unchanged) == UIDS
        assert len(grafana.writes()) == writes  # not one write
        assert grafana.state.dashboards["quantrac-thuy-van"]["dashboard"]["version"] == 1


def test_push_updates_only_the_board_that_changed() -> None:
    boards = boards_in(BUILT / "victoriametrics")
    with FakeGrafana(TOKEN, prefix="/grafana") as grafana:
        push(client_for(grafana.url, TOKEN), boards)
        boards["quantrac-tram"]["description"] = "đã sửa"
        result = push(client_for(grafana.url, TOKEN), boards)
        assert result.updated == ["quantrac-tram"]
        assert set(result.unchanged) == UIDS - {"quantrac-tram"}
        stored = grafana.state.dashboards["quantrac-tram"]["dashboard"]
        assert (stored["version"], stored["description"]) == (2, "đã sửa")


def test_push_with_a_wrong_token_says_so() -> None:
    with FakeGrafana(TOKEN) as grafana, pytest.raises(PushError, match="HTTP 401"):
        push(client_for(grafana.url, "wrong"), boards_in(BUILT / "influxdb"))


def test_push_to_a_grafana_that_is_not_there() -> None:
    url = f"http://127.0.0.1:{free_port()}"
    with pytest.raises(PushError, match="cannot reach Grafana"):
        push(client_for(url, TOKEN, timeout_s=2), boards_in(BUILT / "influxdb"))


def test_cli_push_reads_the_token_from_the_environment_or_a_file(tmp_path: Path) -> None:
    runner = CliRunner()
    with FakeGrafana(TOKEN) as grafana:
        result = runner.invoke(
            app, ["dashboards", "push", "--grafana", grafana.url, "--from", str(BUILT)],
            env={"GRAFANA_TOKEN": TOKEN},
        )  # fmt: skip
        assert result.exit_code == 0, result.output
        assert "created" in result.output
        secret = tmp_path / "token"
        secret.write_text(TOKEN + "\n")
        result = runner.invoke(
            app, ["dashboards", "push", "--grafana", grafana.url, "--from", str(BUILT)],
            env={"GRAFANA_TOKEN": "", "GRAFANA_TOKEN_FILE": str(secret)},
        )  # fmt: skip
        assert result.exit_code == 0, result.output
        assert "unchanged" in result.output
    missing = runner.invoke(
        app, ["dashboards", "push", "--grafana", "http://127.0.0.1:9"], env={"GRAFANA_TOKEN": ""}
    )
    assert missing.exit_code == 1
    assert "GRAFANA_TOKEN" in missing.output


def test_cli_build_writes_one_flavour_and_check_finds_drift(tmp_path: Path) -> None:
    runner = CliRunner()
    out = tmp_path / "dashboards"
    result = runner.invoke(
        app,
        ["dashboards", "build", str(EXAMPLE_SITE), "--store", "victoriametrics", "--out", str(out)],
    )
    assert result.exit_code == 0, result.output
    assert sorted(p.name for p in (out / "victoriametrics").glob("*.json")) == [
        "khong-khi.json", "nuoc-mat.json", "thuy-van.json", "toan-tinh.json", "tram.json",
    ]  # fmt: skip
    assert not (out / "influxdb").exists()
    assert (out / "provisioning" / "datasources" / "quantrac.yaml").is_file()
    shutil.copytree(BUILT, tmp_path / "copy")
    board = tmp_path / "copy" / "influxdb" / "tram.json"
    board.write_text(json.dumps({"title": "sửa tay"}))
    stale = runner.invoke(
        app, ["dashboards", "build", str(EXAMPLE_SITE), "--out", str(tmp_path / "copy"), "--check"]
    )
    assert stale.exit_code == 1
    assert "tram.json" in stale.output
    fresh = runner.invoke(
        app, ["dashboards", "build", str(EXAMPLE_SITE), "--out", str(BUILT), "--check"]
    )
    assert fresh.exit_code == 0, fresh.output


def test_cli_build_refuses_an_unknown_store(tmp_path: Path) -> None:
    result = CliRunner().invoke(
        app, ["dashboards", "build", str(EXAMPLE_SITE), "--store", "mysql", "--out", str(tmp_path)]
    )
    assert result.exit_code == 2
    assert "influxdb or victoriametrics" in result.output
