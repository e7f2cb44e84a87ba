"""Every query of every panel of every board, in both flavours, against real stores.

The flood-and-smog replay (flood_and_smog.py) goes through the real collector into a real
influxd (InfluxQL) and a real victoria-metrics (PromQL/MetricsQL); each query is interpolated
as Grafana would (variables All, the macros of the range) and must answer — a query that returns
nothing fails. Then values at a few points: the crest at Kim Long, the alarm levels at the crest,
the smoggy day's VN_AQI, the storm's 24 h rain, who is heard at the end, completeness and QC
shares, when the silent station was last heard; and the two flavours agree.
"""

from __future__ import annotations

import csv
import io
from datetime import datetime, timedelta
from pathlib import Path

import pytest

from quantrac.dashboards.boards import BOARDS
from quantrac.dashboards.execute import Answer, run_target, store_targets
from quantrac.dashboards.grafana import TimeRange
from tests.dashboards.conftest import Replayed
from tests.dashboards.flood_and_smog import (
    KIM_LONG_CREST_H,
    KIM_LONG_CREST_M,
    POLL,
    STORM_MM,
    TT10_SILENT_FROM_H,
)

FLAVOURS = ("influxdb", "victoriametrics")
SLUGS = [spec.slug for spec, _ in BOARDS]
# Counts of stations above an alarm are empty once the alarm has passed (Grafana shows its
# "no value", 0): they are asked at the crest, when they have an answer.
AT_CREST = {"Trạm trên báo động lũ", "Trạm có VN_AQI từ Kém"}


def whole(replayed: Replayed) -> TimeRange:
    return TimeRange(replayed.replay.start, replayed.replay.end)


def until(replayed: Replayed, hours: float) -> TimeRange:
    return TimeRange(replayed.replay.start, replayed.replay.at(hours))


def ask(
    replayed: Replayed,
    flavour: str,
    slug: str,
    title: str,
    span: TimeRange,
    selection: dict[str, list[str]] | None = None,
) -> list[Answer]:
    board = replayed.board(flavour, slug)
    panel = replayed.panel(flavour, slug, title)
    return [
        run_target(board, panel, target, replayed.stores, span, selection=selection)
        for target in store_targets(panel)
    ]


def last_by_station(answers: list[Answer]) -> dict[str, float]:
    out = {}
    for answer in answers:
        for series in answer.series:
            station = series.labels.get("station", "")
            values = series.values
            if values:
                out[station] = values[-1]
    return out


@pytest.mark.parametrize("slug", SLUGS)
@pytest.mark.parametrize("flavour", FLAVOURS)
def test_every_query_of_the_board_answers(replayed: Replayed, flavour: str, slug: str) -> None:
    board = replayed.board(flavour, slug)
    asked = 0
    for panel in board["panels"]:
        span = until(replayed, KIM_LONG_CREST_H) if panel["title"] in AT_CREST else whole(replayed)
        for target in store_targets(panel):
            answer = run_target(board, panel, target, replayed.stores, span)
            points = sum(len(s.points) for s in answer.series)
            assert points, (
                f"{slug} / {panel['title']} / {target['refId']}: nothing for {answer.sent}"
            )
            asked += 1
        if panel["type"] == "annolist":
            assert panel["options"]["tags"] == ["quantrac"]
    assert asked >= 4, f"{slug}: only {asked} queries"


def test_the_map_lists_every_located_station(replayed: Replayed) -> None:
    panel = replayed.panel("influxdb", "toan-tinh", "Bản đồ trạm")
    [catalog_target] = [t for t in panel["targets"] if t["refId"] == "CAT"]
    rows = list(csv.DictReader(io.StringIO(catalog_target["csvContent"])))
    assert {r["station"] for r in rows} == {s.id for s in replayed.catalog.located}
    kim_long = next(r for r in rows if r["station"] == "kim_long")
    assert (float(kim_long["lat"]), float(kim_long["lon"])) == (16.4637, 107.5489)
    assert kim_long["name"] == "Kim Long (sông Hương)"


@pytest.mark.parametrize("flavour", FLAVOURS)
def test_water_level_at_the_crest(replayed: Replayed, flavour: str) -> None:
    [answer] = ask(replayed, flavour, "thuy-van", "Mực nước Kim Long (sông Hương)", whole(replayed))
    [series] = answer.series
    peak_time, peak = max(series.points, key=lambda p: p[1] or 0)
    assert peak == pytest.approx(KIM_LONG_CREST_M, abs=0.02)
    crest = replayed.replay.at(KIM_LONG_CREST_H)
    assert abs(peak_time / 1000 - crest.timestamp()) <= 15 * 60
    stored = replayed.truth.range(
        "kim_long", "water_level", replayed.replay.start, replayed.replay.end
    )
    assert peak == pytest.approx(max(r.value for r in stored), abs=0.005)


@pytest.mark.parametrize("flavour", FLAVOURS)
def test_alarm_levels_and_counts_at_the_crest(replayed: Replayed, flavour: str) -> None:
    at_crest = until(replayed, KIM_LONG_CREST_H)
    levels = last_by_station(ask(replayed, flavour, "toan-tinh", "Báo động lũ", at_crest))
    assert levels == {"kim_long": 3.0, "phu_oc": 2.0}  # 3.8 m > BĐ III 3.5; 3.3 m > BĐ II 3.0
    [count] = ask(replayed, flavour, "toan-tinh", "Trạm trên báo động lũ", at_crest)
    assert count.series[0].values == [2.0]
    [aqi] = ask(replayed, flavour, "toan-tinh", "Trạm có VN_AQI từ Kém", at_crest)
    assert aqi.series[0].values == [1.0]


@pytest.mark.parametrize("flavour", FLAVOURS)
def test_the_smoggy_days_vn_aqi(replayed: Replayed, flavour: str) -> None:
    day_end = replayed.replay.at(24)
    stored = replayed.truth.range("hue_air", "vn_aqi_d", day_end, day_end + timedelta(seconds=1))
    assert stored, "the collector computed no daily VN_AQI for the smoggy day"
    assert 101 <= stored[0].value <= 150  # "Kém"
    daily = last_by_station(ask(replayed, flavour, "khong-khi", "VN_AQI ngày", whole(replayed)))
    assert daily == {"hue_air": stored[0].value}
    [bars] = ask(replayed, flavour, "khong-khi", "VN_AQI ngày theo ngày", whole(replayed))
    assert stored[0].value in bars.series[0].values
    hourly = ask(replayed, flavour, "khong-khi", "VN_AQI giờ", whole(replayed))
    assert max(hourly[0].series[0].values) >= stored[0].value


@pytest.mark.parametrize("flavour", FLAVOURS)
def test_the_storms_rain(replayed: Replayed, flavour: str) -> None:
    after = until(replayed, 21)
    risk = last_by_station(
        ask(replayed, flavour, "thuy-van", "Rủi ro mưa lớn (theo mưa 24 giờ)", after)
    )
    assert risk["nam_dong"] == pytest.approx(STORM_MM, abs=1.0)  # level 2: > 200 mm in a day
    bars = ask(replayed, flavour, "thuy-van", "Tổng lượng mưa 1, 3, 6, 24 giờ", after)
    assert [a.series[0].values[-1] for a in bars][-1] == pytest.approx(STORM_MM, abs=1.0)
    wind, gust = ask(replayed, flavour, "thuy-van", "Cấp gió", until(replayed, 15))
    assert 17.2 <= last_by_station([wind])["hue_weather"] < 20.8  # cấp 8 at the peak
    assert 24.5 <= last_by_station([gust])["hue_weather"] < 28.5  # giật cấp 10


@pytest.mark.parametrize("flavour", FLAVOURS)
def test_who_is_heard_at_the_end(replayed: Replayed, flavour: str) -> None:
    span = whole(replayed)
    [count] = ask(replayed, flavour, "toan-tinh", "Trạm đang hoạt động", span)
    assert count.series[0].values == [5.0]  # Phú Ốc's logger and the Phú Bài files are silent
    map_answers = ask(replayed, flavour, "toan-tinh", "Bản đồ trạm", span)
    [seen] = [a for a in map_answers if a.ref == "SEEN"]
    assert set(seen.by_label()) == {"hue_air", "hue_weather", "kim_long", "nam_dong", "van_nien"}
    [last_seen] = ask(replayed, flavour, "tram", "Lần cuối nhận số liệu", span)
    when = {
        station: (s.points[-1][0] if flavour == "influxdb" else s.values[-1])
        for station, s in last_seen.by_label().items()
    }
    silent_from = replayed.replay.at(TT10_SILENT_FROM_H) - POLL
    assert when["xlnt_phu_bai"] == silent_from.timestamp() * 1000
    assert when["phu_oc"] < when["kim_long"]


@pytest.mark.parametrize("flavour", FLAVOURS)
def test_completeness_and_flags(replayed: Replayed, flavour: str) -> None:
    answers = ask(replayed, flavour, "tram", "Độ đầy đủ số liệu theo ngày (%)", whole(replayed))
    first_day = int(replayed.replay.start.timestamp() * 1000)
    by_station = {
        station: {t: v or 0.0 for t, v in series.points}
        for a in answers
        for station, series in a.by_label().items()
    }
    assert set(by_station) == {s.id for s in replayed.catalog.polled}
    for station, days in by_station.items():
        assert days[first_day] == pytest.approx(100.0, abs=0.5), station
    second = first_day + 86_400_000
    assert by_station["phu_oc"][second] < by_station["kim_long"][second] - 5  # 2 h silent
    suspect, bad = ask(replayed, flavour, "tram", "Giá trị bị gắn cờ QC (%)", whole(replayed))
    bad_share = last_by_station([bad])
    assert bad_share["phu_oc"] > 1.0  # the radar's lost echo, 30 minutes of 34 hours
    assert bad_share["kim_long"] == 0.0
    assert all(0.0 <= v <= 100.0 for v in last_by_station([suspect]).values())


@pytest.mark.parametrize("flavour", FLAVOURS)
def test_the_variables_narrow_every_query(replayed: Replayed, flavour: str) -> None:
    span = until(replayed, KIM_LONG_CREST_H)
    title = "Mực nước mới nhất"
    by_district = ask(replayed, flavour, "toan-tinh", title, span, {"district": ["Hương Trà"]})
    assert set(last_by_station(by_district)) == {"phu_oc"}
    by_station = ask(replayed, flavour, "toan-tinh", title, span, {"station": ["kim_long"]})
    assert set(last_by_station(by_station)) == {"kim_long"}
    both = ask(replayed, flavour, "toan-tinh", title, span, {"station": ["kim_long", "phu_oc"]})
    assert set(last_by_station(both)) == {"kim_long", "phu_oc"}


def test_the_two_flavours_agree_on_the_latest_values(replayed: Replayed) -> None:
    span = until(replayed, 20)
    for slug, title in (
        ("toan-tinh", "VN_AQI giờ mới nhất"),
        ("toan-tinh", "Mực nước mới nhất"),
        ("nuoc-mat", "VN_WQI mới nhất"),
        ("thuy-van", "Cấp gió"),
    ):
        influx, victoria = (last_by_station(ask(replayed, f, slug, title, span)) for f in FLAVOURS)
        assert influx, title
        assert influx.keys() == victoria.keys(), title
        for station, value in influx.items():
            assert victoria[station] == pytest.approx(value, rel=1e-6), f"{title} {station}"


def test_vn_wqi_is_the_collectors(replayed: Replayed) -> None:
    stored = replayed.truth.range(
        "van_nien", "vn_wqi", replayed.replay.start, replayed.replay.end + timedelta(hours=1)
    )
    assert stored, "the replay must give Vạn Niên a VN_WQI (pH, DO, COD, N-NH4, coliform)"
    latest = last_by_station(
        ask(replayed, "influxdb", "nuoc-mat", "VN_WQI mới nhất", whole(replayed))
    )
    assert latest["van_nien"] == stored[-1].value
    assert min(r.value for r in stored) < 76 <= max(r.value for r in stored)  # the flood shows


def test_the_replay_is_recent_and_in_the_past(replayed: Replayed) -> None:
    """VictoriaMetrics keeps a month and refuses the future; the local copy keeps 3 days."""
    now = datetime.now(replayed.replay.start.tzinfo)
    assert timedelta(hours=36) <= now - replayed.replay.start <= timedelta(days=3)


def test_the_pictures_of_the_docs_draw_from_the_same_queries(
    replayed: Replayed, tmp_path: Path
) -> None:
    """tests/dashboards/pictures.py draws docs/img/dashboards/*.png; it must keep working."""
    from tests.dashboards.pictures import draw

    for slug in ("toan-tinh", "tram"):
        path = draw(
            replayed.board("influxdb", slug),
            replayed.stores,
            whole(replayed),
            tmp_path / f"{slug}.png",
        )
        assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
        assert path.stat().st_size > 20_000
