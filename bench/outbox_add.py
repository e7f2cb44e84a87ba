"""How fast the gateway's outbox takes batches: one durable commit per batch.

    .venv/bin/python -m bench.outbox_add [--batches 2000] [--readings 10]

Baseline in the same run: a bare SQLite table on the same disk, one INSERT per transaction with
the same pragmas (WAL, synchronous=FULL) — the cost of durability itself. The ratio says what
the outbox adds on top (encoding the batch, the meta row, the size accounting).
"""

from __future__ import annotations

import argparse
import sqlite3
import tempfile
import time
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path

from gateway.bus.memory import InProcessBus
from gateway.model import Reading, ReadingBatch
from gateway.outbox import Outbox


def outbox_rate(directory: Path, batches: int, readings: int) -> float:
    outbox = Outbox(directory / "outbox.sqlite3", "gw-bench", InProcessBus())
    ts = datetime.now(UTC)
    prepared = [
        ReadingBatch(
            "gw-bench",
            outbox.next_seq(),
            f"st{n % 200}",
            tuple(Reading(f"st{n % 200}", "pm25", 1.0 + i, "µg/m³", ts) for i in range(readings)),
        )
        for n in range(batches)
    ]
    start = time.perf_counter()
    for batch in prepared:
        outbox.add(batch)
    elapsed = time.perf_counter() - start
    outbox.close()
    return batches / elapsed


def bare_rate(directory: Path, batches: int, payload_size: int) -> float:
    db = sqlite3.connect(directory / "bare.sqlite3", isolation_level=None)
    db.execute("PRAGMA journal_mode=WAL")
    db.execute("PRAGMA synchronous=FULL")
    db.execute("CREATE TABLE t (seq INTEGER PRIMARY KEY, payload BLOB)")
    payload = b"x" * payload_size
    start = time.perf_counter()
    for seq in range(batches):
        db.execute("BEGIN IMMEDIATE")
        db.execute("INSERT INTO t VALUES (?, ?)", (seq, payload))
        db.execute("COMMIT")
    elapsed = time.perf_counter() - start
    db.close()
    return batches / elapsed


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--batches", type=int, default=2000)
    parser.add_argument("--readings", type=int, default=10)
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory(dir=Path.cwd()) as tmp:
        directory = Path(tmp)
        bare = bare_rate(directory, args.batches, 130 * args.readings)
        outbox = outbox_rate(directory, args.batches, args.readings)
    print(f"bare SQLite commit per row (WAL, FULL): {bare:,.0f} /s")
    print(f"outbox.add, {args.readings} readings a batch:  {outbox:,.0f} batches/s")
    print(
        f"SUMMARY outbox {outbox:,.0f} batches/s = {1000 / outbox:.2f} ms per batch; "
        f"ratio to bare commit {outbox / bare:.2f}; 1,000 stations' slot committed in "
        f"{1000 / outbox:.2f} s"
    )


if __name__ == "__main__":
    main()
