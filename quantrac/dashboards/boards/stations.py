"""Trạm: station health — online or not over time, data completeness per local day, the share
of values QC flagged, when each station was last heard (pure)."""

from __future__ import annotations

from collections import defaultdict

from grafana_foundation_sdk.models import dashboard

from quantrac.dashboards import panels
from quantrac.dashboards.boards.shell import BoardSpec, board
from quantrac.dashboards.catalog import BoardCatalog, StationEntry
from quantrac.dashboards.flavours import Flavour
from quantrac.dashboards.grafana import format_ms
from quantrac.dashboards.sdk import value_mappings
from quantrac.dashboards.standards import GREEN

SPEC = BoardSpec(
    "tram",
    "Trạm",
    "Tình trạng trạm: trực tuyến, độ đầy đủ số liệu theo ngày, tỉ lệ giá trị bị gắn cờ QC, "
    "lần cuối nhận số liệu.",
)
COMPLETE_STEPS = [(None, "#FF0000"), (80.0, "#FF7E00"), (95.0, GREEN)]
FLAGGED_STEPS = [(None, GREEN), (5.0, "#FF7E00"), (20.0, "#FF0000")]


def by_polls(stations: tuple[StationEntry, ...]) -> dict[int, list[StationEntry]]:
    """Polled stations grouped by the polls a day expects: one query per group."""
    groups: dict[int, list[StationEntry]] = defaultdict(list)
    for s in stations:
        if s.polls_per_day is not None:
            groups[s.polls_per_day].append(s)
    return dict(sorted(groups.items()))


def build(catalog: BoardCatalog, flavour: Flavour) -> dashboard.Dashboard:
    polled = catalog.polled
    online = panels.state_timeline(
        "Trực tuyến",
        "Nhịp của bộ thu (gateway) ở mỗi lần đọc trạm: xanh khi đọc được, đỏ khi trạm không "
        'trả lời. Trạm gửi tệp TT10 hoặc MQTT không có nhịp này: xem "Lần cuối nhận số liệu".',
        [flavour.heartbeat("A")],
        polled,
        steps=[(None, "#FF0000"), (1.0, GREEN)],
        mappings=value_mappings({"0": ("Mất kết nối", "#FF0000"), "1": ("Trực tuyến", GREEN)}),
        height=max(5, 2 + 2 * len(polled)),
        # One step per poll of the slowest station: a shorter step would find no heartbeat
        # between two polls and draw a healthy station as silent.
        interval=format_ms(int(max((s.interval_s or 60) for s in polled) * 1000))
        if polled
        else None,
    )
    groups = by_polls(catalog.stations)
    completeness = panels.time_series(
        "Độ đầy đủ số liệu theo ngày (%)",
        "Số lần đọc trạm thành công trong ngày (giờ Việt Nam) so với số lần cần đọc theo chu kỳ "
        "của trạm ("
        + "; ".join(
            f"{per_day} lần/ngày: {', '.join(s.name for s in group)}"
            for per_day, group in groups.items()
        )
        + ").",
        [
            flavour.completeness(chr(ord("A") + index), [s.id for s in group], per_day)
            for index, (per_day, group) in enumerate(groups.items())
        ],
        polled,
        unit="percent",
        steps=COMPLETE_STEPS,
        bars=True,
        width=12,
        height=8,
        interval="1d",
    )
    flagged = panels.bar_gauge(
        "Giá trị bị gắn cờ QC (%)",
        "Tỉ lệ giá trị trong khoảng thời gian bị kiểm tra chất lượng đánh dấu nghi ngờ "
        "(đột biến, đứng giá trị, ngoài khoảng…) hoặc hỏng (thiết bị báo lỗi, ngoài giới hạn).",
        [
            flavour.flagged_share("A", 1, suffix=" · nghi ngờ"),
            flavour.flagged_share("B", 2, suffix=" · hỏng"),
        ],
        catalog.stations,
        unit="percent",
        steps=FLAGGED_STEPS,
        maximum=100,
        width=12,
        height=8,
    )
    last_seen = panels.station_table(
        "Lần cuối nhận số liệu",
        "Thời điểm trạm gửi số liệu gần nhất (không tính chuỗi tính toán); xám khi đã quá 15 phút.",
        [flavour.last_seen("A")],
        catalog.stations,
        transformations=[
            dashboard.DataTransformerConfig(
                id_val="organize",
                options={
                    "excludeByName": {column: True for column in flavour.last_seen_hidden},
                    "renameByName": {flavour.last_seen_column: "Lần cuối"},
                },
            ),
        ],
        overrides=[
            (
                "Lần cuối",
                [
                    dashboard.DynamicConfigValue(id_val="unit", value="dateTimeAsLocal"),
                ],
            )
        ],
        width=24,
        height=8,
    )
    return board(SPEC, catalog, [online, completeness, flagged, last_seen])
