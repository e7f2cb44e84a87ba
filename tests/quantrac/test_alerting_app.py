"""Assembling alerting from the example site: its files checked, secrets from the environment."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest

from alerting.config import load_alerting
from alerting.notifiers import NotifierConfigError
from alerting.rules.config import DeadmanConfig, ThresholdConfig
from gateway.bus.memory import InProcessBus
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
    assert "flood_rise" not in rules  # a trend per hour means nothing at 60× speed
    assert "air_quality" not in rules  # nor an index of hourly means
    flood, silent = rules["flood_levels"], rules["no_data"]
    assert isinstance(flood, ThresholdConfig)
    assert isinstance(silent, DeadmanConfig)
    assert flood.pending == timedelta(seconds=5)  # 5 min / 60
    assert silent.no_data_for == timedelta(seconds=30)  # 10 s would be too short
