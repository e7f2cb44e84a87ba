"""The Kim Long flood, at the rule level, with the sample site's own rules.

The Hương at Kim Long (BĐ I 1.0 m, II 2.0 m, III 3.5 m) rises 30 cm/h from 0.50 m, from 18:00
on 22 November, one reading a minute: through BĐ I, II and III, with a one-reading glitch
(2.40 m while the river is at 1.25 m) and a 10-minute hole in the data, to a peak of 3.70 m,
then falls 30 cm/h. The clock ticks half a minute after each reading. Exactly these level
changes must come out, in this order.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from alerting.model import Signal
from alerting.rules import Evaluator, load_rules
from alerting.templates import render
from gateway.model import Quality, Reading
from quantrac.site import load_site
from tests.conftest import EXAMPLE_SITE

T0 = datetime(2025, 11, 22, 11, 0, tzinfo=UTC)  # 18:00 in Huế
GLITCH = 150  # minute of the spike
GAP = range(320, 330)  # minutes without data
PEAK, END = 640, 1200
MINUTE = timedelta(minutes=1)


def water_level(minute: int) -> float:
    if minute == GLITCH:
        return 2.40
    if minute <= PEAK:
        return round(0.5 + 0.005 * minute, 3)
    return round(3.7 - 0.005 * (minute - PEAK), 3)


def minutes(ts: datetime) -> float:
    return (ts - T0) / timedelta(minutes=1)


@pytest.fixture(scope="module")
def storm() -> tuple[list[Signal], list[Signal]]:
    """(every signal, the active judgements at minute 400)."""
    site = load_site(EXAMPLE_SITE)
    # The sample's flood threshold, trend and deadman rules, on Kim Long alone.
    wanted = ("flood_levels", "flood_rise", "no_data")
    rules = [
        rule.model_copy(update={"stations": ["kim_long"]})
        for rule in load_rules(EXAMPLE_SITE / "rules.yaml")
        if rule.id in wanted
    ]
    ev = Evaluator(rules, site.stations)
    signals: list[Signal] = []
    active: list[Signal] = []
    ev.tick(T0 - timedelta(seconds=30))
    for minute in range(END):
        ts = T0 + timedelta(minutes=minute)
        if minute not in GAP:
            reading = Reading(
                "kim_long", "water_level", water_level(minute), "m", ts, quality=Quality.GOOD
            )
            signals += ev.on_batch([reading])
        signals += ev.tick(ts + timedelta(seconds=30))
        if minute == 400:
            active = ev.active()
    return signals, active


def test_the_sequence_of_level_changes(storm: tuple[list[Signal], list[Signal]]) -> None:
    signals, _ = storm
    assert [(minutes(s.ts), s.rule, s.level) for s in signals] == [
        (9, "flood_rise", 1),  # ten points, 30 cm/h > 20 cm/h
        (105, "flood_levels", 1),  # 1.00 m at minute 100, held 5 minutes
        (305, "flood_levels", 2),  # the glitch at minute 150 fired nothing
        (329.5, "no_data", 1),  # the tick 10 minutes after the last reading (minute 319)
        (330, "no_data", 0),  # the first reading after the hole
        (605, "flood_levels", 3),
        (651, "flood_levels", 3),  # the crest: two readings 5 cm under 3.70 m (issue 11)
        (664, "flood_rise", 0),  # the fitted rate is under 10 cm/h, 24 minutes past the peak
        (691, "flood_levels", 2),  # 3.445 m: below BĐ III's recovery (3.45)
        (991, "flood_levels", 1),  # 1.945 m: below 1.95
        (1191, "flood_levels", 0),  # 0.945 m: below 0.95
    ]
    by_rule = {
        rule: sum(1 for s in signals if s.rule == rule)
        for rule in ("flood_levels", "flood_rise", "no_data")
    }
    assert by_rule == {"flood_levels": 7, "flood_rise": 2, "no_data": 2}
    crest = signals[6]
    assert crest.facts["event"] == "crest"
    assert (crest.facts["crest_m"], crest.facts["crest_at"]) == (
        3.7,
        (T0 + PEAK * MINUTE).isoformat(),
    )
    # The glitch (2.40 m at minute 150, one reading) was never a crest: at BĐ II (minute 305)
    # the highest water so far is the reading before, 2.02 m.
    assert signals[2].facts["crest_m"] == 2.02


def test_the_projection_during_the_rise(storm: tuple[list[Signal], list[Signal]]) -> None:
    signals, active = storm
    rise = signals[0]
    assert (rise.facts["next_label"], rise.facts["rate_cm_h"]) == ("BĐ I", pytest.approx(30.0))
    assert rise.facts["eta_hours"] == pytest.approx((1.0 - 0.545) / 0.3, abs=1e-3)
    bd1, bd2 = signals[1], signals[2]
    assert (bd1.facts["next_label"], bd2.facts["next_label"]) == ("BĐ II", "BĐ III")
    assert bd2.facts["eta_hours"] == pytest.approx((3.5 - 2.025) / 0.3, abs=1e-3)
    # At minute 400 (2.50 m) the trend still holds and points at BĐ III in 3 h 20 min.
    trend = next(s for s in active if s.rule == "flood_rise")
    assert trend.value == 2.5
    assert trend.facts["next_label"] == "BĐ III"
    assert trend.facts["eta_hours"] == pytest.approx(1.0 / 0.3, abs=1e-3)
    assert "BĐ III sau khoảng 3 giờ" in render(trend).text
    # Past BĐ III there is nothing left to project to.
    assert "eta_hours" not in signals[5].facts


def test_the_messages_of_the_storm(storm: tuple[list[Signal], list[Signal]]) -> None:
    signals, _ = storm
    texts = [render(s).text for s in signals]
    assert texts[0] == (
        "[NƯỚC LÊN NHANH] Sông Hương tại Kim Long 0,55 m, đang lên 30 cm/giờ — dự kiến đạt "
        "BĐ I sau khoảng 2 giờ nếu giữ tốc độ này, 18:09 22/11"
    )
    assert texts[2] == (
        "[BÁO ĐỘNG II] Sông Hương tại Kim Long 2,03 m (trên BĐ II 0,03 m), đang lên 30 cm/giờ, "
        "23:05 22/11"
    )
    assert texts[3] == "[MẤT TÍN HIỆU] Trạm Kim Long không gửi số liệu từ 23:19 22/11"
    assert texts[4] == (
        "[CÓ TÍN HIỆU TRỞ LẠI] Trạm Kim Long gửi số liệu trở lại lúc 23:30 22/11 "
        "(không có số liệu từ 23:19 22/11)"
    )
    # The crest, once the fall is confirmed; the words follow the water, not the last hour's fit.
    assert texts[6] == (
        "[ĐỈNH LŨ] Sông Hương tại Kim Long: đỉnh lũ 3,70 m lúc 04:40, nay 3,65 m "
        "(trên BĐ III 0,15 m), đang xuống 30 cm/giờ, 04:51 23/11"
    )
    # Issue 11: past the crest the hour's fit still rises (8 cm/h); the message says the fall.
    assert signals[7].facts["fit_rate_per_h"] > 0
    assert texts[7] == (
        "[NƯỚC ĐANG XUỐNG] Sông Hương tại Kim Long 3,58 m, đang xuống 30 cm/giờ, 05:04 23/11"
    )
    # The river's own 30 cm/h since the crest, not the hour's 26 that the crest flattens.
    assert texts[8] == (
        "[BÁO ĐỘNG II] Sông Hương tại Kim Long xuống 3,45 m (dưới BĐ III, trên BĐ II 1,45 m), "
        "đang xuống 30 cm/giờ, 05:31 23/11; đỉnh lũ 3,70 m lúc 04:40"
    )
    assert texts[10] == (
        "[HẾT BÁO ĐỘNG] Sông Hương tại Kim Long xuống 0,95 m (dưới BĐ I), 13:51 23/11; "
        "đỉnh lũ 3,70 m lúc 04:40"
    )
    assert render(signals[10], "en").text == (
        "[FLOOD ALARM OVER] Hương River at Kim Long down to 0.95 m (below alarm level I), "
        "13:51 23/11; crest 3.70 m at 04:40"
    )
