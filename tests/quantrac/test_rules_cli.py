"""``quantrac rules test``: a season's history replayed through the site's rules."""

from __future__ import annotations

import csv
import re
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from typer.testing import CliRunner

from alerting.config import load_alerting
from alerting.model import AlertKind, Notification, NotificationState, Severity
from quantrac.cli import app
from quantrac.replay import (
    as_sent,
    clock_between,
    near_misses,
    station_key,
    unknown_stations,
)
from tests.conftest import EXAMPLE_SITE

HISTORY = EXAMPLE_SITE / "history" / "kim_long_flood.csv"
# "22:45 22/11  flood_levels · kim_long · escalated": one line per change, then its messages.
CHANGE = re.compile(r"^(\d\d:\d\d \d\d/\d\d)  (\S+) · (\S+) · (\w+)$", re.MULTILINE)


def rules_test(history: Path, *options: str) -> str:
    result = CliRunner().invoke(
        app,
        ["rules", "test", str(EXAMPLE_SITE), str(history), *options],
        env={"COLUMNS": "250"},
    )
    assert result.exit_code == 0, result.output
    return result.output


def test_the_kim_long_flood_replayed() -> None:
    output = rules_test(HISTORY)
    changes = [(rule, change) for _, rule, _, change in CHANGE.findall(output)]
    assert changes == [
        ("flood_rise", "firing"), ("flood_levels", "firing"), ("flood_levels", "escalated"),
        ("flood_levels", "escalated"), ("flood_levels", "crest"), ("flood_rise", "resolved"),
        ("flood_levels", "deescalated"), ("flood_levels", "deescalated"),
        ("flood_levels", "resolved"),
    ]  # fmt: skip
    assert "ban_chi_huy, ioc, console" in output
    assert "9 change(s) would have been notified." in output
    assert "warning" not in output


def test_messages_are_printed_whole_for_each_receiver() -> None:
    output = rules_test(HISTORY)
    block = output.split("· escalated")[2]  # after the second escalation: to BĐ III
    block = block[block.index("→ ban_chi_huy") :]
    lines = [line.strip() for line in block.splitlines()]
    # The committee's SMS (the site's sms: without diacritics, its message format), the IOC's
    # webhook and the console: each with its title and its whole text.
    assert lines[0] == "→ ban_chi_huy (sms)"
    assert lines[1].startswith("[BAO DONG III] Song Huong tai Kim Long")
    assert "3,53 m" in lines[1]
    assert lines[2] == "→ ioc (webhook)"
    assert lines[3] == "[BÁO ĐỘNG III] Sông Hương tại Kim Long"
    assert lines[4].startswith("[BÁO ĐỘNG III] Sông Hương tại Kim Long 3,53 m")
    assert lines[5] == "→ console (console)"


def write_history(path: Path, rows: list[tuple[str, str, datetime, float]]) -> Path:
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(["station", "param", "ts", "value", "unit"])
        for station, param, ts, value in rows:
            writer.writerow([station, param, ts.isoformat(), f"{value:.3f}", "m"])
    return path


def test_an_unknown_station_id_is_warned_about_with_its_near_miss(tmp_path: Path) -> None:
    with HISTORY.open(encoding="utf-8") as handle:
        text = handle.read()
    history = tmp_path / "kim-long.csv"
    history.write_text(text.replace("kim_long,", "kim-long,"), encoding="utf-8")
    output = rules_test(history)
    rows = text.count("\nkim_long,")
    assert rows == 240
    assert f"station 'kim-long' is not in the site: {rows} row(s) skipped" in output
    assert "did you mean 'kim_long'?" in output
    assert "0 change(s) would have been notified." in output
    assert f"{rows} row(s) of 1 unknown station(s) skipped" in output


# Kim Long at 0.50 m every 5 minutes from 08:00 to 09:00 (local), silent for 3 hours, then
# again from 12:00 to 13:00. The site's deadman (no_data) waits 10 minutes.
MORNING = datetime(2026, 11, 22, 1, 0, tzinfo=UTC)


def gap_history(tmp_path: Path) -> Path:
    times = [MORNING + timedelta(minutes=5 * k) for k in range(13)]
    times += [MORNING + timedelta(hours=4, minutes=5 * k) for k in range(13)]
    return write_history(
        tmp_path / "gap.csv", [("kim_long", "water_level", ts, 0.5) for ts in times]
    )


def test_a_gap_in_the_history_raises_the_deadman_notice(tmp_path: Path) -> None:
    output = rules_test(gap_history(tmp_path))
    changes = CHANGE.findall(output)
    # Silent from 09:00: the notice at 09:10 (the clock ticks through the gap), the return at
    # 12:00 with the first reading.
    assert changes == [
        ("09:10 22/11", "no_data", "kim_long", "firing"),
        ("12:00 22/11", "no_data", "kim_long", "resolved"),
    ]
    assert "→ ky_thuat (sms)" in output
    assert "[MẤT TÍN HIỆU] Trạm Kim Long" in output
    assert "[CÓ TÍN HIỆU TRỞ LẠI] Trạm Kim Long" in output


def test_without_ticks_in_the_gap_the_silence_would_not_show(tmp_path: Path) -> None:
    # The old replay ticked only at readings: the same history then gave no deadman at all.
    output = rules_test(gap_history(tmp_path), "--tick", str(24 * 3600))
    assert CHANGE.findall(output) == []


@pytest.mark.parametrize(
    ("unknown", "suggestions"),
    [
        ("kim-long", ["kim_long"]),
        ("Kim_Long", ["kim_long"]),
        ("KIM LONG", ["kim_long"]),
        ("kimlong", ["kim_long"]),
        ("kim_lông", ["kim_long"]),
        ("phu-oc", ["phu_oc"]),
        ("hue_airr", ["hue_air"]),
        ("xyz", []),
    ],
)
def test_near_misses(unknown: str, suggestions: list[str]) -> None:
    known = ["kim_long", "phu_oc", "hue_air", "hue_weather", "nam_dong", "van_nien"]
    assert near_misses(unknown, known) == suggestions


def test_station_key() -> None:
    assert station_key(" Kim-Long ") == "kim_long"


def test_unknown_stations_are_counted_per_id() -> None:
    from gateway.model import Quality, Reading

    ts = MORNING
    readings = [
        Reading(station, "water_level", 1.0, "m", ts, quality=Quality.GOOD)
        for station in ["kim-long", "kim-long", "kim_long", "phu_oc", "PHU_OC", "x"]
    ]
    found = unknown_stations(readings, ["kim_long", "phu_oc"])
    assert [(u.id, u.rows, u.suggestions) for u in found] == [
        ("PHU_OC", 1, ("phu_oc",)),
        ("kim-long", 2, ("kim_long",)),
        ("x", 1, ()),
    ]


@pytest.mark.parametrize(
    ("gap_s", "every_s", "ticks"),
    [
        (0, 60, 0),
        (60, 60, 0),  # a tick at the next reading's time is the reading's own
        (61, 60, 1),
        (3 * 3600, 60, 179),
        (300, 120, 2),
    ],
)
def test_clock_between(gap_s: int, every_s: int, ticks: int) -> None:
    got = list(
        clock_between(MORNING, MORNING + timedelta(seconds=gap_s), timedelta(seconds=every_s))
    )
    assert len(got) == ticks
    assert all(MORNING < t < MORNING + timedelta(seconds=gap_s) for t in got)
    with pytest.raises(ValueError, match="positive"):
        list(clock_between(MORNING, MORNING, timedelta(0)))


def test_as_sent_follows_each_receivers_channels() -> None:
    config = load_alerting(EXAMPLE_SITE)
    notification = Notification(
        key="k", state=NotificationState.FIRING, kind=AlertKind.FLOOD, severity=Severity.CRITICAL,
        level=2, title="[BÁO ĐỘNG II] Sông Hương tại Kim Long",
        text="[BÁO ĐỘNG II] Sông Hương tại Kim Long 2,23 m", text_en="", created_at=MORNING,
    )  # fmt: skip
    sent = as_sent(notification, ["ban_chi_huy", "ioc", "nobody"], config)
    assert [(s.receiver, s.channels) for s in sent] == [
        ("ban_chi_huy", ("sms",)),
        ("ioc", ("webhook",)),
        ("nobody", ()),
    ]
    sms = sent[0]
    assert sms.title == ""
    assert "Song Huong tai Kim Long 2,23 m" in sms.text  # the site's SMS: no diacritics
    assert (sent[1].title, sent[1].text) == (notification.title, notification.text)
