"""Pictures of the reports for docs/reports.md: the demo site's (examples/hue) daily report of
the flood day and monthly report, made from the smog-then-flood replay loaded by the real
collector, and rendered page by page by poppler, as the tests render them.

    python -m tests.reports.pictures      # docs/img/reports/*.png, about 20 s
"""

from __future__ import annotations

import asyncio
import subprocess
import tempfile
from datetime import UTC, datetime
from pathlib import Path

from quantrac.reports.gather import AlertingRecords, gather
from quantrac.reports.pdf import render_pdf
from quantrac.reports.period import ReportPeriod
from tests.conftest import EXAMPLE_SITE
from tests.dashboards.flood_and_smog import ZONE
from tests.dashboards.load import load, replay_site
from tests.reports.conftest import FIRST_DAY, Replayed, write_alerting_records
from tests.reports.scenario import SmogThenFlood

OUT = Path(__file__).resolve().parents[2] / "docs" / "img" / "reports"
MADE_AT = datetime(2025, 11, 1, 7, 0, tzinfo=ZONE)


def main() -> None:
    OUT.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        site = replay_site(EXAMPLE_SITE, root / "site")
        replay = SmogThenFlood.on(FIRST_DAY)
        store = asyncio.run(load(site, replay, str(root / "data" / "quantrac.sqlite3"), root))
        replayed = Replayed(
            site, replay, store, root / "data", AlertingRecords.in_dir(root / "data")
        )
        write_alerting_records(replayed)
        for stem, period in (
            ("bao-cao-ngay", ReportPeriod.daily(replay.flood_day)),
            ("bao-cao-thang", ReportPeriod.monthly(replay.flood_day)),
        ):
            report = gather(site, store, period, alerting=replayed.alerting, now=lambda: MADE_AT)
            pdf = root / f"{stem}.pdf"
            pdf.write_bytes(render_pdf(report, clock=lambda: MADE_AT.astimezone(UTC)))
            for old in OUT.glob(f"{stem}-*.png"):
                old.unlink()
            subprocess.run(["pdftoppm", "-r", "70", "-png", str(pdf), str(OUT / stem)], check=True)
        store.close()
    for picture in sorted(OUT.glob("*.png")):
        print(picture.relative_to(OUT.parents[2]))


if __name__ == "__main__":
    main()
