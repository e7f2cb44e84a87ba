"""The fault suite, short (issue 10): every fault, run on real servers, loses nothing.

What it proves, per fault — gateway SIGKILL mid-burst, bus broker stopped, collector SIGKILL
mid-burst, InfluxDB stopped, VictoriaMetrics stopped, the gateway's disk full, a burst from one
MQTT station larger than the gateway's input queue, a gateway restart with a session backlog
larger than that queue: every reading the stations' broker acknowledged is in the store
(0 lost), once (0 duplicates), and the store caught up within the limit; during the database
outages the clean stream kept flowing and a flood warning injected mid-outage reached its
webhook before the database came back.

The same rows as ``python -m bench.faults`` (bench/faults/), with outages of 8 s instead of 60
and bursts of 12,000 instead of 50,000. The services run as processes (``quantrac gateway``,
``collector``, ``alerting``) on real Mosquitto, InfluxDB and VictoriaMetrics; the disk-full row
mounts a 20 MB tmpfs (root, as CI runs it). The pure arithmetic is tested first, by tables.
"""

from __future__ import annotations

import math
from pathlib import Path

import pytest

from bench.faults.accounting import Row, Tally, drop_counters, flow, notes, table, tally
from bench.faults.rows import SHORT, SPECS, Spec, run_row

A, B = "wl_00", "wl_01"


@pytest.mark.parametrize(
    ("expected", "samples", "want"),
    [
        ({(A, "water_level", 1)}, {(A, "water_level", 1): 1}, Tally(1, 1, 0, 0)),
        ({(A, "water_level", 1)}, {}, Tally(1, 0, 0, 1)),
        # A duplicate anywhere counts, a derived series' too; a stored key not expected does not.
        (
            {(A, "water_level", 1), (A, "water_level", 2)},
            {(A, "water_level", 1): 2, (A, "flood_level", 1): 3, (B, "water_level", 9): 1},
            Tally(2, 1, 3, 1),
        ),
        (set(), {(A, "water_level", 1): 1}, Tally(0, 0, 0, 0)),
    ],
)
def test_tally_counts_lost_and_duplicate_samples(
    expected: set[tuple[str, str, int]], samples: dict[tuple[str, str, int], int], want: Tally
) -> None:
    assert tally(expected, samples) == want


@pytest.mark.parametrize(
    ("published", "arrivals", "want"),
    [
        # Every reading out within 0.2 s: the longest silence is the gap between two of them.
        ([1.0, 2.0, 3.0], [(1.2, 1.0), (2.2, 2.0), (3.2, 3.0)], (3, 3, 1.2, 0.2)),
        # Nothing came out during the window: silent throughout, no delay to speak of.
        ([1.0, 2.0], [], (2, 0, 4.0, math.nan)),
        # Held back until after the window (the store came back): not on time.
        ([1.0, 2.0], [(5.0, 1.0), (5.0, 2.0)], (2, 0, 4.0, math.nan)),
        # Published before the window, out during it: not a reading of the window.
        ([-1.0, 1.0], [(0.5, -1.0), (1.5, 1.0)], (1, 1, 2.5, 0.5)),
    ],
)
def test_flow_of_the_clean_stream_over_an_outage(
    published: list[float],
    arrivals: list[tuple[float, float]],
    want: tuple[int, int, float, float],
) -> None:
    got = flow(published, arrivals, start=0.0, end=4.0)
    assert (got.published, got.arrived) == want[:2]
    assert got.longest_silence_s == pytest.approx(want[2])
    assert (math.isnan(got.p95_delay_s) and math.isnan(want[3])) or got.p95_delay_s == (
        pytest.approx(want[3])
    )


def test_drop_counters_found_at_any_depth_zero_ones_left_out() -> None:
    health = {
        "status": "degraded",
        "outbox": {"dropped": 3, "dropped_by_station": {"wl_burst": 3}, "sent": 10},
        "bus": {"dropped_incoming": 0, "connected": True},
        "flag_dropped": True,
    }
    assert drop_counters(health) == {
        "outbox.dropped": 3.0,
        "outbox.dropped_by_station.wl_burst": 3.0,
    }


def test_table_says_not_caught_up_and_not_run() -> None:
    rows = [
        Row("broker stopped 8 s", Tally(160, 160, 0, 0), 4.04, 60.0),
        Row("burst", Tally(50_000, 12_999, 0, 37_001), None, 180.0, ("lost by station: x",)),
        Row("disk full", None, None, 0.0, ("NOT RUN: mount failed",)),
    ]
    lines = table(rows).splitlines()
    cells = [[cell.strip() for cell in line.strip("|").split("|")] for line in lines]
    assert cells[0] == ["fault", "expected", "stored", "duplicates", "lost", "time to catch up"]
    assert cells[2] == ["broker stopped 8 s", "160", "160", "0", "0", "4.0 s"]
    assert cells[3] == ["burst", "50,000", "12,999", "0", "37,001", "> 180 s"]
    assert cells[4] == ["disk full", "—", "—", "—", "—", "—"]
    assert [row.passed for row in rows] == [True, False, False]
    assert notes(rows).splitlines() == [
        "- burst: lost by station: x",
        "- disk full: NOT RUN: mount failed",
    ]


@pytest.mark.parametrize("spec", SPECS, ids=[spec.key for spec in SPECS])
def test_fault_loses_nothing_and_stores_nothing_twice(spec: Spec, tmp_path: Path) -> None:
    root = tmp_path / spec.key
    row = run_row(spec, SHORT, root, say=lambda _: None)
    report = f"\n{table([row])}\n{notes([row])}\nlogs: {root / 'logs'}"
    assert row.tally is not None, report
    assert row.tally.lost == 0, f"{spec.title(SHORT)}: {row.tally.lost:,} readings lost{report}"
    assert row.tally.duplicates == 0, (
        f"{spec.title(SHORT)}: {row.tally.duplicates:,} duplicate samples in the store{report}"
    )
    assert row.catch_up_s is not None, f"{spec.title(SHORT)}: not caught up{report}"
    if spec.alerting:
        assert row.outage_on_time, (
            f"{spec.title(SHORT)}: the clean stream or the flood warning was not on time "
            f"during the outage{report}"
        )
