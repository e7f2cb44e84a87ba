"""Warning messages: exact strings in Vietnamese and English, from hand-built Signals."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest

from alerting.model import AlertKind, Severity, Signal
from alerting.rules import RULE_TYPES
from alerting.templates import (
    AQI_EN,
    TEMPLATES,
    WQI_EN,
    Language,
    en_number,
    render,
    render_group,
    render_texts,
    vi_number,
    vi_time,
)
from collector.indices.aqi import AQI_CATEGORIES
from collector.indices.wqi import WQI_CATEGORIES

# 23:40 on 22 November, Huế time (UTC+7).
T_2340 = datetime(2025, 11, 22, 16, 40, tzinfo=UTC)
T_0410 = datetime(2025, 11, 22, 21, 10, tzinfo=UTC)
KIM_LONG: dict[str, Any] = {"station_name": "Kim Long", "district": "Phú Xuân", "river": "Hương"}


def signal(
    rule_type: str,
    kind: AlertKind,
    level: int,
    value: float | None,
    ts: datetime = T_2340,
    station: str = "kim_long",
    severity: Severity = Severity.WARNING,
    **facts: Any,
) -> Signal:
    return Signal(
        rule=f"{rule_type}_rule",
        station=station,
        kind=kind,
        level=level,
        severity=severity if level else Severity.INFO,
        ts=ts,
        param=str(facts.get("param", "")),
        value=value,
        facts={"rule_type": rule_type, **facts},
    )


def flood(level: int, value: float, ts: datetime = T_2340, **facts: Any) -> Signal:
    return signal(
        "threshold",
        AlertKind.FLOOD,
        level,
        value,
        ts,
        flood_levels=True,
        unit="m",
        param="water_level",
        **{**KIM_LONG, **facts},
    )


@pytest.mark.parametrize(
    ("value", "decimals", "vi", "en"),
    [
        (2.25, 2, "2,25", "2.25"),
        (1234.5, 1, "1.234,5", "1,234.5"),
        (1234567.891, 2, "1.234.567,89", "1,234,567.89"),
        (180.0, 0, "180", "180"),
        (0.25, 2, "0,25", "0.25"),
        # Half up on the number as written: 1.025 is a hair below in binary, still "1,03".
        (1.025, 2, "1,03", "1.03"),
        (0.945, 2, "0,95", "0.95"),
        (-3.456, 2, "-3,46", "-3.46"),
        (-0.001, 2, "0,00", "0.00"),  # never "-0,00"
        (17.95, 1, "18,0", "18.0"),
    ],
)
def test_numbers(value: float, decimals: int, vi: str, en: str) -> None:
    assert vi_number(value, decimals) == vi
    assert en_number(value, decimals) == en


@pytest.mark.parametrize(
    ("ts", "expected"),
    [
        (datetime(2025, 11, 22, 16, 40, tzinfo=UTC), "23:40 22/11"),
        # 17:05 UTC is past midnight in Huế: the next day.
        (datetime(2025, 11, 22, 17, 5, tzinfo=UTC), "00:05 23/11"),
        (datetime(2026, 1, 1, 0, 0, tzinfo=UTC), "07:00 01/01"),
    ],
)
def test_local_time(ts: datetime, expected: str) -> None:
    assert vi_time(ts) == expected


FLOOD_CASES = [
    pytest.param(
        flood(2, 2.25, margin=0.25, margin_label="BĐ II", rate_cm_h=18.0, previous_level=1),
        "[BÁO ĐỘNG II] Sông Hương tại Kim Long",
        "[BÁO ĐỘNG II] Sông Hương tại Kim Long 2,25 m (trên BĐ II 0,25 m), đang lên 18 cm/giờ, "
        "23:40 22/11",
        "[FLOOD ALARM II] Hương River at Kim Long 2.25 m (0.25 m above alarm level II), "
        "rising 18 cm/h, 23:40 22/11",
        id="escalation",
    ),
    pytest.param(
        flood(0, 1.85, T_0410, previous_level=2, previous_label="BĐ II", rate_cm_h=-12.0),
        "[HẾT BÁO ĐỘNG] Sông Hương tại Kim Long",
        "[HẾT BÁO ĐỘNG] Sông Hương tại Kim Long xuống 1,85 m (dưới BĐ II), 04:10 23/11",
        "[FLOOD ALARM OVER] Hương River at Kim Long down to 1.85 m (below alarm level II), "
        "04:10 23/11",
        id="resolved",
    ),
    pytest.param(
        flood(
            1,
            1.85,
            T_0410,
            margin=0.85,
            margin_label="BĐ I",
            previous_level=2,
            previous_label="BĐ II",
            rate_cm_h=-12.4,
        ),
        "[BÁO ĐỘNG I] Sông Hương tại Kim Long",
        "[BÁO ĐỘNG I] Sông Hương tại Kim Long xuống 1,85 m (dưới BĐ II, trên BĐ I 0,85 m), "
        "đang xuống 12 cm/giờ, 04:10 23/11",
        "[FLOOD ALARM I] Hương River at Kim Long down to 1.85 m (below alarm level II, 0.85 m "
        "above alarm level I), falling 12 cm/h, 04:10 23/11",
        id="deescalation",
    ),
    pytest.param(
        flood(3, 3.5, margin=0.0, margin_label="BĐ III", rate_cm_h=0.4),
        "[BÁO ĐỘNG III] Sông Hương tại Kim Long",
        # At the level exactly: "ở mức"; under 1 cm/h the rate is not worth a word.
        "[BÁO ĐỘNG III] Sông Hương tại Kim Long 3,50 m (ở mức BĐ III), 23:40 22/11",
        "[FLOOD ALARM III] Hương River at Kim Long 3.50 m (at alarm level III), 23:40 22/11",
        id="at-level",
    ),
    pytest.param(
        flood(
            2,
            1.40,
            margin=0.40,
            margin_label="BĐ I",
            rate_cm_h=15.0,
            raised_by="bo_raises_huong",
            raised_by_station="phu_oc",
            raised_by_station_name="Phú Ốc",
            raised_by_river="Bồ",
            raised_by_label="BĐ II",
        ),
        "[BÁO ĐỘNG II] Sông Hương tại Kim Long",
        "[BÁO ĐỘNG II] Sông Hương tại Kim Long 1,40 m (trên BĐ I 0,40 m), đang lên 15 cm/giờ; "
        "nâng mức do lũ thượng nguồn: sông Bồ tại Phú Ốc ở BĐ II, 23:40 22/11",
        "[FLOOD ALARM II] Hương River at Kim Long 1.40 m (0.40 m above alarm level I), rising "
        "15 cm/h; raised for the flood upstream: Bồ River at Phú Ốc at alarm level II, "
        "23:40 22/11",
        id="raised-upstream",
    ),
]


@pytest.mark.parametrize(("sig", "title", "vi", "en"), FLOOD_CASES)
def test_flood(sig: Signal, title: str, vi: str, en: str) -> None:
    message = render(sig)
    assert message.title == title
    assert message.text == vi
    assert render(sig, Language.EN).text == en


def test_trend_with_projection() -> None:
    sig = signal(
        "trend",
        AlertKind.FLOOD,
        1,
        2.25,
        unit="m",
        rate_cm_h=25.2,
        eta_hours=5.0,
        next_label="BĐ III",
        **KIM_LONG,
    )
    assert render(sig).text == (
        "[NƯỚC LÊN NHANH] Sông Hương tại Kim Long 2,25 m, đang lên 25 cm/giờ — dự kiến đạt "
        "BĐ III sau khoảng 5 giờ nếu giữ tốc độ này, 23:40 22/11"
    )
    assert render(sig, "en").text == (
        "[RAPID RISE] Hương River at Kim Long 2.25 m, rising 25 cm/h — expected to reach alarm "
        "level III in about 5 hours if the rise holds, 23:40 22/11"
    )


@pytest.mark.parametrize(
    ("hours", "vi", "en"),
    [
        (0.62, "40 phút", "40 minutes"),
        (0.02, "10 phút", "10 minutes"),
        (0.97, "1 giờ", "1 hour"),
        (1.5, "2 giờ", "2 hours"),
        (4.917, "5 giờ", "5 hours"),
    ],
)
def test_projection_durations(hours: float, vi: str, en: str) -> None:
    facts = {**KIM_LONG, "unit": "m", "rate_cm_h": 30.0, "eta_hours": hours, "next_label": "BĐ I"}
    sig = signal("trend", AlertKind.FLOOD, 1, 0.8, **facts)
    assert f"sau khoảng {vi} nếu" in render(sig).text
    assert f"in about {en} if" in render(sig, "en").text


def test_trend_slowing() -> None:
    sig = signal("trend", AlertKind.FLOOD, 0, 3.58, unit="m", rate_cm_h=8.7, **KIM_LONG)
    assert render(sig).text == (
        "[NƯỚC LÊN CHẬM LẠI] Sông Hương tại Kim Long 3,58 m, đang lên 9 cm/giờ, 23:40 22/11"
    )


RAIN: dict[str, Any] = {"station_name": "Nam Đông", "district": "Nam Đông", "window_hours": 24.0}


@pytest.mark.parametrize(
    ("sig", "vi", "en"),
    [
        pytest.param(
            signal(
                "accumulation", AlertKind.RAIN, 1, 180.0, label="rủi ro thiên tai cấp độ 1", **RAIN
            ),
            "[MƯA LỚN] Nam Đông: mưa 24 giờ 180 mm — rủi ro thiên tai cấp độ 1",
            "[HEAVY RAIN] Nam Đông: 180 mm of rain in 24 hours — natural-disaster risk level 1",
            id="risk",
        ),
        pytest.param(
            signal(
                "accumulation",
                AlertKind.RAIN,
                2,
                212.4,
                label="rủi ro thiên tai cấp độ 2",
                incomplete=True,
                **RAIN,
            ),
            "[MƯA LỚN] Nam Đông: mưa 24 giờ ít nhất 212,4 mm — rủi ro thiên tai cấp độ 2",
            "[HEAVY RAIN] Nam Đông: at least 212.4 mm of rain in 24 hours — natural-disaster "
            "risk level 2",
            id="incomplete-lower-bound",
        ),
        pytest.param(
            signal(
                "accumulation",
                AlertKind.RAIN,
                1,
                85.0,
                label="mưa rất to",
                **{**RAIN, "window_hours": 3.0},
            ),
            "[MƯA LỚN] Nam Đông: mưa 3 giờ 85 mm — mưa rất to",
            "[HEAVY RAIN] Nam Đông: 85 mm of rain in 3 hours — very heavy rain",
            id="levels",
        ),
        pytest.param(
            signal("accumulation", AlertKind.RAIN, 0, 40.0, **RAIN),
            "[HẾT MƯA LỚN] Nam Đông: mưa 24 giờ 40 mm",
            "[HEAVY RAIN OVER] Nam Đông: 40 mm of rain in 24 hours",
            id="over",
        ),
    ],
)
def test_rain(sig: Signal, vi: str, en: str) -> None:
    assert render(sig).text == vi
    assert render(sig, "en").text == en


HUE: dict[str, Any] = {"station_name": "Huế", "district": "Thuận Hóa"}


@pytest.mark.parametrize(
    ("sig", "vi", "en"),
    [
        pytest.param(
            signal("wind", AlertKind.STORM, 2, 18.0, wind_speed=18.0, wind_gust=26.0, **HUE),
            "[GIÓ MẠNH] Huế: gió cấp 8, giật cấp 10",
            "[STRONG WIND] Huế: wind force 8, gusts force 10",
            id="wind-and-gust",
        ),
        pytest.param(
            signal("wind", AlertKind.STORM, 1, 12.0, wind_speed=12.0, **HUE),
            "[GIÓ MẠNH] Huế: gió cấp 6",
            "[STRONG WIND] Huế: wind force 6",
            id="no-gust-yet",
        ),
        pytest.param(
            signal("wind", AlertKind.STORM, 3, 65.0, wind_speed=65.0, wind_gust=70.0, **HUE),
            "[GIÓ MẠNH] Huế: gió trên cấp 17, giật trên cấp 17",
            "[STRONG WIND] Huế: wind above force 17, gusts above force 17",
            id="above-scale",
        ),
        pytest.param(
            signal("wind", AlertKind.STORM, 0, 6.0, wind_speed=6.0, wind_gust=11.0, **HUE),
            "[GIÓ ĐÃ GIẢM] Huế: gió cấp 4, giật cấp 6",
            "[WIND EASED] Huế: wind force 4, gusts force 6",
            id="eased",
        ),
        pytest.param(
            signal(
                "wind", AlertKind.STORM, 2, 26.0, wind_speed=18.0, wind_gust=26.0, gust_rule=True,
                **HUE,
            ),
            "[GIÓ GIẬT MẠNH] Huế: giật cấp 10, gió cấp 8",
            "[STRONG GUSTS] Huế: gusts force 10, wind force 8",
            id="a-gust-rule-speaks-of-the-gust",
        ),
        pytest.param(
            signal(
                "wind", AlertKind.STORM, 0, 11.0, wind_speed=6.0, wind_gust=11.0, gust_rule=True,
                **HUE,
            ),
            "[GIÓ GIẬT ĐÃ GIẢM] Huế: giật cấp 6, gió cấp 4",
            "[GUSTS EASED] Huế: gusts force 6, wind force 4",
            id="gusts-eased",
        ),
    ],
)  # fmt: skip
def test_wind(sig: Signal, vi: str, en: str) -> None:
    assert render(sig).text == vi
    assert render(sig, "en").text == en


@pytest.mark.parametrize(
    ("sig", "vi", "en"),
    [
        pytest.param(
            signal(
                "index",
                AlertKind.AIR,
                2,
                165.0,
                index="VN_AQI",
                category="Xấu",
                dominant="pm25",
                dominant_label="PM2.5",
                **HUE,
            ),
            "[KHÔNG KHÍ] Huế: VN_AQI 165 (Xấu) — PM2.5",
            "[AIR QUALITY] Huế: VN_AQI 165 (Bad) — PM2.5",
            id="aqi",
        ),
        pytest.param(
            signal("index", AlertKind.AIR, 0, 85.0, index="VN_AQI", category="Trung bình", **HUE),
            "[KHÔNG KHÍ ĐÃ CẢI THIỆN] Huế: VN_AQI 85 (Trung bình)",
            "[AIR QUALITY IMPROVED] Huế: VN_AQI 85 (Moderate)",
            id="aqi-improved",
        ),
        pytest.param(
            signal(
                "index",
                AlertKind.WATER,
                1,
                45.0,
                index="VN_WQI",
                category="Xấu",
                station_name="Vạn Niên",
            ),
            "[CHẤT LƯỢNG NƯỚC] Vạn Niên: VN_WQI 45 (Xấu)",
            "[WATER QUALITY] Vạn Niên: VN_WQI 45 (Poor)",
            id="wqi",
        ),
    ],
)
def test_index(sig: Signal, vi: str, en: str) -> None:
    assert render(sig).text == vi
    assert render(sig, "en").text == en


@pytest.mark.parametrize(
    ("sig", "vi", "en"),
    [
        pytest.param(
            signal(
                "deadman",
                AlertKind.STATION,
                1,
                None,
                reason="no_data",
                since="2025-11-22T16:10:00+00:00",
                **KIM_LONG,
            ),
            "[MẤT TÍN HIỆU] Trạm Kim Long không gửi số liệu từ 23:10 22/11",
            "[NO DATA] Kim Long station has sent no data since 23:10 22/11",
            id="no-data",
        ),
        pytest.param(
            signal(
                "deadman",
                AlertKind.STATION,
                1,
                None,
                reason="no_data",
                param="water_level",
                param_label="Mực nước",
                since="2025-11-22T16:10:00+00:00",
                **KIM_LONG,
            ),
            "[MẤT TÍN HIỆU] Trạm Kim Long không gửi số liệu mực nước từ 23:10 22/11",
            "[NO DATA] Kim Long station has sent no water level data since 23:10 22/11",
            id="no-data-one-param",
        ),
        pytest.param(
            signal("deadman", AlertKind.STATION, 1, None, reason="no_data", **KIM_LONG),
            "[MẤT TÍN HIỆU] Trạm Kim Long chưa gửi số liệu",
            "[NO DATA] Kim Long station has not sent any data yet",
            id="never-heard",
        ),
        pytest.param(
            signal(
                "deadman",
                AlertKind.STATION,
                1,
                None,
                reason="offline",
                since="2025-11-22T16:10:00+00:00",
                station_name="Trạm khí tượng Huế",
            ),
            "[MẤT TÍN HIỆU] Trạm khí tượng Huế mất kết nối từ 23:10 22/11",
            "[NO DATA] Trạm khí tượng Huế offline since 23:10 22/11",
            id="offline",
        ),
        pytest.param(
            signal("deadman", AlertKind.STATION, 0, None, T_0410, **KIM_LONG),
            "[CÓ TÍN HIỆU TRỞ LẠI] Trạm Kim Long gửi số liệu trở lại lúc 04:10 23/11",
            "[DATA BACK] Kim Long station reporting again at 04:10 23/11",
            id="back",
        ),
        pytest.param(
            signal(
                "deadman",
                AlertKind.STATION,
                0,
                None,
                T_0410,
                outage_reason="offline",
                outage_since="2025-11-22T16:10:00+00:00",
                **KIM_LONG,
            ),
            "[CÓ TÍN HIỆU TRỞ LẠI] Trạm Kim Long gửi số liệu trở lại lúc 04:10 23/11 "
            "(mất kết nối từ 23:10 22/11)",
            "[DATA BACK] Kim Long station reporting again at 04:10 23/11 "
            "(offline since 23:10 22/11)",
            id="back-says-from-what",
        ),
        pytest.param(
            signal(
                "deadman",
                AlertKind.STATION,
                0,
                None,
                T_0410,
                outage_reason="no_data",
                outage_since="2025-11-22T16:10:00+00:00",
                **KIM_LONG,
            ),
            "[CÓ TÍN HIỆU TRỞ LẠI] Trạm Kim Long gửi số liệu trở lại lúc 04:10 23/11 "
            "(không có số liệu từ 23:10 22/11)",
            "[DATA BACK] Kim Long station reporting again at 04:10 23/11 "
            "(no data since 23:10 22/11)",
            id="back-after-silence",
        ),
    ],
)
def test_deadman(sig: Signal, vi: str, en: str) -> None:
    assert render(sig).text == vi
    assert render(sig, "en").text == en


def test_generic_threshold() -> None:
    sig = signal(
        "threshold",
        AlertKind.WATER,
        1,
        3.2,
        station="van_nien",
        param="do",
        param_label="DO",
        unit="mg/L",
        direction="below",
        level_threshold=4.0,
        label="mức 1",
        station_name="Vạn Niên",
    )
    assert (
        render(sig).text
        == "[CẢNH BÁO] Vạn Niên: DO 3,20 mg/L — mức 1 (dưới ngưỡng 4,00 mg/L), 23:40 22/11"
    )
    assert render(sig, "en").text == (
        "[WARNING] Vạn Niên: DO 3.20 mg/L — level 1 (below 4.00 mg/L), 23:40 22/11"
    )


def test_group_of_one_storm() -> None:
    """Three gauges in one flood: one title, one line a station, the worst first."""
    phu_oc: dict[str, Any] = {"station_name": "Phú Ốc", "river": "Bồ"}
    signals = [
        flood(1, 1.2, margin=0.2, margin_label="BĐ I"),
        flood(
            3,
            4.6,
            station="phu_oc",
            severity=Severity.EMERGENCY,
            margin=0.1,
            margin_label="BĐ III",
            **phu_oc,
        ),
        flood(
            2,
            2.25,
            station="kim_long_2",
            severity=Severity.CRITICAL,
            margin=0.25,
            margin_label="BĐ II",
            station_name="Kim Long 2",
        ),
    ]
    title, text, text_en = render_texts(signals)
    assert title == "[BÁO ĐỘNG LŨ] 3 trạm"
    assert text.splitlines() == [
        "[BÁO ĐỘNG LŨ] 3 trạm",
        "- [BÁO ĐỘNG III] Sông Bồ tại Phú Ốc 4,60 m (trên BĐ III 0,10 m), 23:40 22/11",
        "- [BÁO ĐỘNG II] Sông Hương tại Kim Long 2 2,25 m (trên BĐ II 0,25 m), 23:40 22/11",
        "- [BÁO ĐỘNG I] Sông Hương tại Kim Long 1,20 m (trên BĐ I 0,20 m), 23:40 22/11",
    ]
    assert text_en.splitlines()[0] == "[FLOOD ALARM] 3 stations"
    assert text_en.splitlines()[1] == (
        "- [FLOOD ALARM III] Bồ River at Phú Ốc 4.60 m (0.10 m above alarm level III), 23:40 22/11"
    )


def test_group_with_one_tag_drops_it_from_the_lines() -> None:
    signals = [
        signal(
            "deadman",
            AlertKind.STATION,
            1,
            None,
            station=s,
            reason="no_data",
            since="2025-11-22T16:10:00+00:00",
            station_name=n,
        )
        for s, n in (("kim_long", "Kim Long"), ("phu_oc", "Phú Ốc"))
    ]
    message = render_group(signals)
    assert message.title == "[MẤT TÍN HIỆU] 2 trạm"
    assert message.body.splitlines() == [
        "- Trạm Kim Long không gửi số liệu từ 23:10 22/11",
        "- Trạm Phú Ốc không gửi số liệu từ 23:10 22/11",
    ]
    assert render_group(signals, "en").title == "[NO DATA] 2 stations"


def test_single_signal_texts() -> None:
    sig = flood(2, 2.25, margin=0.25, margin_label="BĐ II", rate_cm_h=18.0)
    title, text, text_en = render_texts([sig])
    assert title == "[BÁO ĐỘNG II] Sông Hương tại Kim Long"
    assert text.startswith("[BÁO ĐỘNG II] Sông Hương tại Kim Long 2,25 m")
    assert text_en.startswith("[FLOOD ALARM II] Hương River at Kim Long 2.25 m")


def test_every_rule_type_has_a_template() -> None:
    # upstream raises another rule's warning: its signals are that rule's, rendered by it.
    assert set(TEMPLATES) == set(RULE_TYPES) - {"upstream"}


def test_category_names_are_the_indices_own() -> None:
    assert set(AQI_EN) == {c.name for c in AQI_CATEGORIES}
    assert set(WQI_EN) == {c.name for c in WQI_CATEGORIES}


# -- issue 11: reminders, the turn, the crest, duplicates, SMS ---------------------------------

T_1745 = datetime(2025, 11, 22, 10, 45, tzinfo=UTC)
T_1900 = datetime(2025, 11, 22, 12, 0, tzinfo=UTC)


def test_a_reminder_says_so_and_carries_its_own_value_and_time() -> None:
    sig = flood(3, 3.74, T_1900, margin=0.24, margin_label="BĐ III", rate_cm_h=-7.0,
                trend="falling", reminder=True)  # fmt: skip
    assert render(sig).text == (
        "[NHẮC LẠI] [BÁO ĐỘNG III] Sông Hương tại Kim Long 3,74 m (trên BĐ III 0,24 m), "
        "đang xuống 7 cm/giờ, 19:00 22/11"
    )
    assert render(sig, "en").title == "[REMINDER] [FLOOD ALARM III] Hương River at Kim Long"


@pytest.mark.parametrize(
    ("trend", "rate", "vi"),
    [
        ("rising", 8.0, "3,80 m (trên BĐ III 0,30 m), đang lên 8 cm/giờ, 19:00 22/11"),
        ("falling", -4.0, "3,80 m (trên BĐ III 0,30 m), đang xuống 4 cm/giờ, 19:00 22/11"),
        ("steady", 0.4, "3,80 m (trên BĐ III 0,30 m), 19:00 22/11"),
    ],
)
def test_the_word_is_the_rules_trend(trend: str, rate: float, vi: str) -> None:
    sig = flood(3, 3.8, T_1900, margin=0.3, margin_label="BĐ III", rate_cm_h=rate, trend=trend)
    assert render(sig).text.endswith(vi)


CREST = {"crest_m": 3.82, "crest_at": T_1745.isoformat()}


def test_the_crest_message() -> None:
    sig = flood(3, 3.74, T_1900, margin=0.24, margin_label="BĐ III", rate_cm_h=-7.0,
                trend="falling", event="crest", crest_passed=True, **CREST)  # fmt: skip
    assert render(sig).text == (
        "[ĐỈNH LŨ] Sông Hương tại Kim Long: đỉnh lũ 3,82 m lúc 17:45, nay 3,74 m "
        "(trên BĐ III 0,24 m), đang xuống 7 cm/giờ, 19:00 22/11"
    )
    assert render(sig, "en").text == (
        "[FLOOD CREST] Hương River at Kim Long: crest 3.82 m at 17:45, now 3.74 m "
        "(0.24 m above alarm level III), falling 7 cm/h, 19:00 22/11"
    )


@pytest.mark.parametrize(
    ("level", "passed", "ts", "tail"),
    [
        (3, False, T_1900, "19:00 22/11"),  # the highest water so far is no crest yet
        (3, True, T_1900, "19:00 22/11; đỉnh lũ 3,82 m lúc 17:45"),
        (2, True, T_0410, "04:10 23/11; đỉnh lũ 3,82 m lúc 17:45 22/11"),  # another day
        (0, False, T_0410, "04:10 23/11; đỉnh lũ 3,82 m lúc 17:45 22/11"),  # over: it was
    ],
)
def test_later_messages_say_the_crest(level: int, passed: bool, ts: datetime, tail: str) -> None:
    facts = {"margin": 0.1, "margin_label": "BĐ II", "previous_label": "BĐ I"}
    sig = flood(level, 2.1, ts, crest_passed=passed, **CREST, **facts)
    assert render(sig).text.endswith(tail)


def test_a_trend_ending_past_the_turn_says_falling() -> None:
    sig = signal("trend", AlertKind.FLOOD, 0, 3.8, T_1900, unit="m", rate_cm_h=-4.0,
                 trend="falling", **KIM_LONG)  # fmt: skip
    assert render(sig).text == (
        "[NƯỚC ĐANG XUỐNG] Sông Hương tại Kim Long 3,80 m, đang xuống 4 cm/giờ, 19:00 22/11"
    )
    assert render(sig, "en").tag == "[WATER FALLING]"


def test_the_same_line_is_said_once() -> None:
    wind = dict(wind_speed=18.0, wind_gust=26.0, **HUE)
    same = [signal("wind", AlertKind.STORM, 2, 18.0, **wind) for _ in range(2)]
    assert render_texts(same)[1] == "[GIÓ MẠNH] Huế: gió cấp 8, giật cấp 10"
