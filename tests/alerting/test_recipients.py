"""Recipients are checked as the notifiers will read them: `quantrac config check` refuses what
SMS, Zalo or email would refuse during a flood (issue 11: a landline passed the check and every
SMS to it was refused)."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from alerting.config import AlertingConfig, load_alerting, recipient_problems
from alerting.model import Recipient
from alerting.notifiers.email import recipient_email
from alerting.notifiers.phones import recipient_phone

EXAMPLE_SITE = Path(__file__).parents[2] / "examples" / "hue"
QUANTRAC = [sys.executable, "-m", "quantrac"]


def _config(channels: list[str], *members: dict[str, Any]) -> AlertingConfig:
    notifiers: dict[str, Any] = {
        "sms": {"provider": "esms", "sender": "QUANTRAC-HUE",
                "secret_env": {"api_key": "A", "secret_key": "B"}},
        "email": {"host": "mail.example.vn", "sender": "canhbao@example.vn"},
        "zalo": {"app_id": "1", "template": {"template_id": "1", "data": {"t": "{text}"}}},
    }  # fmt: skip
    return AlertingConfig.model_validate(
        {
            "notifiers": notifiers,
            "routing": {
                "recipients": {"bch": {"channels": channels, "members": list(members)}},
                "routes": [{"to": ["bch"]}],
            },
        }
    )


@pytest.mark.parametrize(
    ("channels", "member", "problem"),
    [
        (["sms"], {"name": "Văn phòng", "phone": "+84 234 3822 000"},
         "recipients.bch.members[0] (Văn phòng): sms: '+84 234 3822 000' is a landline "
         "(area code 0234): it cannot receive SMS or Zalo"),
        (["zalo"], {"name": "Văn phòng", "phone": "0234 3822 000"},
         "zalo: '0234 3822 000' is a landline (area code 0234): it cannot receive SMS or Zalo"),
        (["sms"], {"name": "Trực ban", "email": "a@example.vn"}, "sms: recipient has no phone"),
        (["sms"], {"name": "Số cũ", "phone": "0168 123 4567"},
         "sms: not a Vietnamese phone number: '0168 123 4567'"),
        (["email"], {"name": "Phòng QT", "phone": "0905123456"}, "email: recipient has no email"),
        (["email"], {"name": "Phòng QT", "email": "quantrac at stnmt"},
         "email: bad address 'quantrac at stnmt'"),
        (["sms", "email"], {"name": "Anh Bình", "phone": "0905 123 456", "email": "b@x.vn"}, None),
        (["zalo"], {"name": "Chị Hà", "phone": "+84 914.000.111"}, None),
    ],
)  # fmt: skip
def test_each_channel_refuses_what_it_cannot_reach(
    channels: list[str], member: dict[str, Any], problem: str | None
) -> None:
    problems = recipient_problems(_config(channels, member))
    if problem is None:
        assert problems == []
    else:
        assert len(problems) == 1
        assert problem in problems[0]


@pytest.mark.parametrize(
    ("recipient", "check", "message"),
    [
        (Recipient("a", phone="+84 234 3822 000"), recipient_phone, "is a landline"),
        (Recipient("a"), recipient_phone, "recipient has no phone"),
        (Recipient("a", email="not an address"), recipient_email, "bad address"),
        (Recipient("a"), recipient_email, "recipient has no email"),
    ],
)
def test_the_check_is_the_notifiers_own_function(
    recipient: Recipient, check: Any, message: str
) -> None:
    """The notifiers send only what these functions return (their tests send to real
    receivers); the check calls the very same functions, so they cannot disagree."""
    with pytest.raises(ValueError, match=message):
        check(recipient)


def test_the_example_site_reaches_every_recipient() -> None:
    assert recipient_problems(load_alerting(EXAMPLE_SITE)) == []


def test_config_check_names_a_landline_before_the_season(tmp_path: Path) -> None:
    site = tmp_path / "site"
    shutil.copytree(EXAMPLE_SITE, site)
    alerting = site / "alerting.yaml"
    text = alerting.read_text(encoding="utf-8")
    assert '"0905 000 000"' in text
    alerting.write_text(text.replace('"0905 000 000"', '"+84 234 3822 000"'), encoding="utf-8")
    result = subprocess.run(
        [*QUANTRAC, "config", "check", str(site)],
        capture_output=True,
        text=True,
        env={**os.environ, "COLUMNS": "300"},
        check=False,
    )
    assert result.returncode == 1
    assert (
        "ban_chi_huy.members[0] (Văn phòng thường trực BCH PCTT&TKCN (máy trực)): sms: "
        "'+84 234 3822 000' is a landline (area code 0234): it cannot receive SMS or Zalo"
    ) in result.stderr
    assert "1 problem(s) in the site config" in result.stderr
