"""``python -m bench.faults``: run the fault suite, print the table (Markdown)."""

from __future__ import annotations

import argparse
import os
import platform
import shutil
import signal
import sys
import tempfile
import time
from collections.abc import Sequence
from dataclasses import replace
from pathlib import Path
from types import FrameType

from bench.faults.accounting import Row, notes, table
from bench.faults.rows import FULL, SHORT, SPECS, run_row


def _interrupt(signum: int, _frame: FrameType | None) -> None:
    # SIGTERM as Ctrl-C: every row's ``with Rig`` undoes its processes and mount.
    raise KeyboardInterrupt(f"signal {signum}")


def machine() -> str:
    cpu = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    python = platform.python_version()
    return f"{cpu}, {os.cpu_count()} CPU(s), Python {python}, {platform.system()}"


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="The fault suite: one row per fault.")
    parser.add_argument("--short", action="store_true", help="short outages, small counts")
    parser.add_argument(
        "--only", default="", help="comma-separated rows: " + ", ".join(s.key for s in SPECS)
    )
    parser.add_argument("--outage", type=float, help="seconds of each outage")
    parser.add_argument("--burst", type=int, help="messages of the burst row")
    parser.add_argument("--backlog", type=int, help="messages waiting in the gateway's session")
    parser.add_argument(
        "--disk-full",
        choices=("tmpfs", "fsize"),
        default="tmpfs",
        help="tmpfs (needs root; falls back to fsize when mount fails) or a file-size limit",
    )
    parser.add_argument(
        "--vm-no-dedup",
        action="store_true",
        help="run VictoriaMetrics without -dedup.minScrapeInterval (docs/storage.md requires it)",
    )
    parser.add_argument("--check", action="store_true", help="exit 1 unless every row passes")
    parser.add_argument("--keep", action="store_true", help="keep the work directory (logs)")
    args = parser.parse_args(argv)

    profile = SHORT if args.short else FULL
    if args.outage is not None:
        profile = replace(profile, outage_s=args.outage)
    if args.burst is not None:
        profile = replace(profile, burst=args.burst)
    if args.backlog is not None:
        profile = replace(profile, backlog=args.backlog)
    wanted = {name.strip() for name in args.only.split(",") if name.strip()}
    unknown = wanted - {s.key for s in SPECS}
    if unknown:
        parser.error(f"unknown rows: {', '.join(sorted(unknown))}")
    specs = [s for s in SPECS if not wanted or s.key in wanted]

    for sig in (signal.SIGINT, signal.SIGTERM):  # SIGINT too: a background job inherits it ignored
        signal.signal(sig, _interrupt)
    work = Path(tempfile.mkdtemp(prefix="quantrac-faults-"))
    print(f"machine: {machine()}")
    print(
        f"profile {profile.name}: outages {profile.outage_s:.0f} s, kills down "
        f"{profile.down_s:.0f} s, steady stream 10 stations × {profile.rate_hz:g} msg/s; "
        f"work dir {work}",
        flush=True,
    )
    rows: list[Row] = []
    began = time.monotonic()
    try:
        for spec in specs:
            started = time.monotonic()
            print(f"{spec.title(profile)} …", flush=True)
            try:
                row = run_row(
                    spec,
                    profile,
                    work / spec.key,
                    disk_method=args.disk_full,
                    vm_dedup=not args.vm_no_dedup,
                    say=lambda text: print(text, flush=True),
                )
            except (RuntimeError, OSError) as exc:
                row = Row(spec.title(profile), None, None, 0, (f"NOT RUN: {exc}",))
            rows.append(row)
            print(
                f"  {'PASS' if row.passed else 'FAIL'} in {time.monotonic() - started:.0f} s",
                flush=True,
            )
    except KeyboardInterrupt:
        print("interrupted: processes stopped, mounts undone", file=sys.stderr)
        return 130
    finally:
        if args.keep:
            print(f"logs kept in {work}")
        else:
            shutil.rmtree(work, ignore_errors=True)
    print()
    print(table(rows))
    print()
    print(notes(rows))
    passed = sum(row.passed for row in rows)
    print(f"\n{passed}/{len(rows)} rows pass (0 lost, 0 duplicates, caught up"
          f"{', on time during outages' if any(s.alerting for s in specs) else ''}); "
          f"{time.monotonic() - began:.0f} s in all")  # fmt: skip
    return 1 if args.check and passed < len(rows) else 0


if __name__ == "__main__":
    sys.exit(main())
