"""Assembling alerting from the example site: its files checked, secrets from the environment."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from alerting.config import load_alerting
from alerting.notifiers import NotifierConfigError
from alerting.rules import Evaluator
from alerting.rules.config import DeadmanConfig, StationRule, ThresholdConfig, TrendConfig
from alerting.templates import render
from gateway.bus.memory import InProcessBus
from gateway.model import Quality, Reading
from quantrac.alerting_app import build_alerting, compressed_rules, site_rules
from quantrac.site import load_site
from tests.conftest import EXAMPLE_SITE

SECRETS = {
    "QUANTRAC_IOC_SECRET": "s",
    "QUANTRAC_ESMS_API_KEY": "k",
    "QUANTRAC_ESMS_SECRET_KEY": "s",
    "QUANTRAC_SMTP_PASSWORD": "p",
}


async def test_the_example_site_assembles(tmp_path: Path) -> None:
    site = load_site(EXAMPLE_SITE)
    app = build_alerting(site, InProcessBus(), tmp_path, environ=SECRETS)
    try:
        assert sorted(app.notifiers) == ["console", "email", "sms", "webhook"]
        assert len(app.evaluator.slots) >= 10  # rules × stations of rules.yaml
    finally:
        await app.aclose()


async def test_a_missing_secret_stops_the_start_with_its_name(tmp_path: Path) -> None:
    site = load_site(EXAMPLE_SITE)
    partial = {k: v for k, v in SECRETS.items() if k != "QUANTRAC_ESMS_API_KEY"}
    with pytest.raises(NotifierConfigError, match="QUANTRAC_ESMS_API_KEY"):
        build_alerting(site, InProcessBus(), tmp_path, environ=partial)


def test_an_unknown_receiver_is_named(tmp_path: Path) -> None:
    text = (EXAMPLE_SITE / "alerting.yaml").read_text(encoding="utf-8")
    (tmp_path / "alerting.yaml").write_text(
        text.replace("[ky_thuat, console]", "[ky_thuat, ủy_ban]")
    )
    with pytest.raises(ValueError, match="unknown receiver 'ủy_ban'"):
        load_alerting(tmp_path)


def test_without_alerting_yaml_everything_goes_to_the_console(tmp_path: Path) -> None:
    config = load_alerting(tmp_path)
    assert list(config.notifiers) == ["console"]


def test_the_demo_compresses_the_rules_durations() -> None:
    rules = {r.id: r for r in compressed_rules(site_rules(load_site(EXAMPLE_SITE)), 60.0)}
    assert "air_quality" not in rules  # an index of hourly means means nothing at 60× speed
    flood, silent, rise = rules["flood_levels"], rules["no_data"], rules["flood_rise"]
    assert isinstance(flood, ThresholdConfig)
    assert isinstance(silent, DeadmanConfig)
    assert isinstance(rise, TrendConfig)
    assert flood.pending == timedelta(seconds=5)  # 5 min / 60
    assert flood.rate_window == timedelta(minutes=1)  # the storm's hour of readings
    assert silent.no_data_for == timedelta(seconds=30)  # 10 s would be too short
    assert rise.window == timedelta(minutes=1)
    assert rise.horizon == timedelta(hours=24)  # storm hours, as its projections are
    assert (flood.time_scale, rise.time_scale) == (60.0, 60.0)
    original = site_rules(load_site(EXAMPLE_SITE))[0]
    assert isinstance(original, ThresholdConfig)
    assert original.time_scale == 1.0  # the site's own rules: per hour of the clock


STORM_START = datetime(2026, 11, 22, 10, 30, tzinfo=UTC)


def rising_kim_long(cm_per_storm_hour: float) -> list[Reading]:
    """Kim Long from 1.05 m (over BĐ I), read every 2 s of the demo's clock, rising steadily in
    storm time (60 times the clock's)."""
    step_s = 2.0
    per_reading = cm_per_storm_hour / 100 * step_s * 60 / 3600
    return [
        Reading("kim_long", "water_level", round(1.05 + n * per_reading, 4), "m",
                STORM_START + timedelta(seconds=n * step_s), quality=Quality.GOOD)
        for n in range(60)
    ]  # fmt: skip


@pytest.mark.parametrize(
    ("time_scale", "said"),
    [
        (60.0, "đang lên 30 cm/giờ"),  # the demo: per storm hour
        (1.0, "đang lên 1.800 cm/giờ"),  # per hour of the demo's clock: what it said before
    ],
)
def test_a_compressed_rule_says_the_rate_per_storm_hour(time_scale: float, said: str) -> None:
    """30 cm per storm hour: at 60× speed the demo's clock sees 30 cm a minute. The compressed
    rules say the storm's 30 cm/giờ and project in storm hours; ``eta_at`` stays a time of the
    clock's."""
    site = load_site(EXAMPLE_SITE)
    rules = [r for r in site_rules(site) if r.id in ("flood_levels", "flood_rise")]
    compressed = [
        r.on_time_scale(time_scale) if isinstance(r, StationRule) else r
        for r in compressed_rules(rules, 60.0)
    ]
    evaluator = Evaluator(compressed, site.stations)
    signals = [s for r in rising_kim_long(30.0) for s in evaluator.on_batch([r])]
    flood = next(s for s in signals if s.rule == "flood_levels")
    assert flood.level == 1
    assert said in render(flood).text, render(flood).text
    assert flood.facts["rate_cm_h"] == pytest.approx(30.0 * 60 / time_scale, rel=0.02)
    rises = [s for s in signals if s.rule == "flood_rise" and s.level == 1]
    if time_scale == 1.0:
        assert rises  # 1,800 cm/h is a rapid rise too
        return
    # Kim Long's trend rule (20 cm/h) judges the storm's rate too, and projects to BĐ II
    # (2.0 m) from about 1.1 m: about 3 storm hours, 3 minutes of the clock.
    (rise,) = rises
    assert rise.facts["next_label"] == "BĐ II"
    hours = rise.facts["eta_hours"]
    assert 2.5 < hours < 3.2, hours
    eta_at = datetime.fromisoformat(rise.facts["eta_at"])
    assert eta_at - rise.ts == pytest.approx(timedelta(hours=hours / 60), abs=timedelta(seconds=1))
    assert "đang lên 30 cm/giờ — dự kiến đạt BĐ II sau khoảng 3 giờ" in render(rise).text
