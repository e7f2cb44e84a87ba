"""Every notifier is in the table, has a sample config, and every sample validates and builds
(building reads the secrets from the environment and opens no connection)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml

from alerting.notifiers import (
    NOTIFIERS,
    SAMPLES,
    NotifierConfigError,
    build_notifier,
    notifier_config,
)
from alerting.notifiers.base import ChannelConfig, NotifierContext

SAMPLE_FILES = sorted(SAMPLES.glob("*.yaml"))
# The variables the samples name, with values: a sample never holds a secret itself.
ENV = {
    "QUANTRAC_IOC_SECRET": "ioc-shared-secret",
    "QUANTRAC_ESMS_API_KEY": "k",
    "QUANTRAC_ESMS_SECRET_KEY": "s",
    "QUANTRAC_SMS_TOKEN": "t",
    "QUANTRAC_ZALO_SECRET_KEY": "z",
    "QUANTRAC_ZALO_ACCESS_TOKEN": "a",
    "QUANTRAC_ZALO_REFRESH_TOKEN": "r",
    "QUANTRAC_GRAFANA_TOKEN": "g",
    "QUANTRAC_SMTP_PASSWORD": "p",
}


def _channel(path: Path) -> str:
    return path.stem.split("-", 1)[0]  # sms-custom.yaml is an sms sample


def _document(path: Path) -> dict[str, Any]:
    document = yaml.safe_load(path.read_text(encoding="utf-8"))
    assert isinstance(document, dict)
    return document


def test_the_table_names_every_channel() -> None:
    assert sorted(NOTIFIERS) == ["console", "email", "grafana", "sms", "webhook", "zalo"]
    for entry in NOTIFIERS.values():
        assert issubclass(entry.config, ChannelConfig)


def test_every_channel_has_a_sample() -> None:
    assert {_channel(path) for path in SAMPLE_FILES} == set(NOTIFIERS)


@pytest.mark.parametrize("path", SAMPLE_FILES, ids=lambda p: p.name)
async def test_sample_validates_and_builds(path: Path, tmp_path: Path) -> None:
    channel = _channel(path)
    config = notifier_config(channel, _document(path))
    notifier = build_notifier(channel, config, NotifierContext(environ=ENV, state_dir=tmp_path))
    assert notifier.channel == channel
    await notifier.aclose()


@pytest.mark.parametrize("path", SAMPLE_FILES, ids=lambda p: p.name)
def test_samples_hold_no_secret(path: Path) -> None:
    text = path.read_text(encoding="utf-8")
    for value in ENV.values():
        assert f": {value}\n" not in text
    if path.stem != "console":  # the console has nothing to hide
        assert "_env" in text  # every other channel needs a secret, named by its variable


@pytest.mark.parametrize("path", SAMPLE_FILES, ids=lambda p: p.name)
def test_a_typo_in_a_sample_is_an_error(path: Path) -> None:
    document = _document(path)
    document["time_out_s"] = 10
    with pytest.raises(ValueError, match="time_out_s"):
        notifier_config(_channel(path), document)


def test_unknown_channels_are_named() -> None:
    with pytest.raises(NotifierConfigError, match="no notifier 'fax'"):
        notifier_config("fax", {})
