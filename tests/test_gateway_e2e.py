"""The gateway end-to-end benchmark, small, as a test (issue 12): it runs as users run it, and
the properties that do not depend on the machine's speed hold.

``python -m bench.gateway_e2e`` with 20 stations at 1 s: real pymodbus servers, a real
Mosquitto, ``quantrac gateway`` with its outbox on disk and ``quantrac collector`` as
processes, a subscriber that counts, the bare asyncio floor. The figures of speed are the
benchmark's business (docs/benchmarks.md); here: every reading delivered, none twice, no poll
skipped, no traceback on a clean stop, and a SIGKILL of the gateway loses none of the batches
its outbox had made durable (= acknowledged to the poller).
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from tests.servers import require_binary

pytestmark = pytest.mark.timeout(300)


def test_the_gateway_end_to_end_delivers_everything_and_survives_a_sigkill(
    tmp_path: Path,
) -> None:
    require_binary("mosquitto", "mosquitto")
    figures = tmp_path / "figures.json"
    result = subprocess.run(
        [sys.executable, "-m", "bench.gateway_e2e", "--stations", "20", "--duration", "4",
         "--warmup", "1", "--grace", "3", "--kill", "20", "--json", str(figures)],
        capture_output=True,
        text=True,
        timeout=280,
        check=False,
        cwd=Path(__file__).resolve().parent.parent,
    )  # fmt: skip
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    summary = json.loads(figures.read_text(encoding="utf-8"))

    kill = summary["kill"]
    assert kill["durable_at_kill"] > 0, "the kill came when nothing was in the outbox"
    assert kill["lost"] == 0, kill
    assert kill["log_errors"] == 0, kill

    (run,) = summary["runs"]
    ours, floor = run["quantrac"], run["floor"]
    assert ours["delivered"] == 1.0, ours
    assert ours["duplicates"] == 0
    assert ours["skipped"] == 0
    assert ours["log_errors"] == 0
    assert floor["delivered"] == 1.0, floor  # the yardstick itself worked
    assert ours["cpu_per_1000"] > 0
    assert floor["cpu_per_1000"] > 0
    # The printed table names both columns and the ratio.
    assert "| delivered / expected | 1.000 | 1.000 |" in result.stdout
    assert "CPU ratio quantrac / floor" in result.stdout
