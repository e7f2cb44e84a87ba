"""``quantrac rules test``: a season's history replayed through the site's rules."""

from __future__ import annotations

import re

from typer.testing import CliRunner

from quantrac.cli import app
from tests.conftest import EXAMPLE_SITE


def test_the_kim_long_flood_replayed() -> None:
    history = EXAMPLE_SITE / "history" / "kim_long_flood.csv"
    result = CliRunner().invoke(
        app, ["rules", "test", str(EXAMPLE_SITE), str(history)], env={"COLUMNS": "250"}
    )
    assert result.exit_code == 0, result.output
    changes = re.findall(r"\b(firing|escalated|deescalated|resolved)\b", result.output)
    assert changes == [
        "firing", "firing", "escalated", "escalated", "resolved",
        "deescalated", "deescalated", "resolved",
    ]  # fmt: skip
    assert "[BÁO ĐỘNG III] Sông Hương tại Kim Long" in result.output
    assert "ban_chi_huy, ioc, console" in result.output
    assert "8 change(s) would have been notified." in result.output
