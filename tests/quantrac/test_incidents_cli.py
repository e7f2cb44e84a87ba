"""``quantrac incidents``: list, acknowledge and silence from another process than the service."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

from typer.testing import CliRunner

from alerting.incidents import IncidentManager, IncidentStore
from alerting.model import AlertKind, Severity, Signal
from quantrac.cli import app

T0 = datetime.now(UTC) - timedelta(minutes=30)


def test_ack_and_silence_reach_the_running_manager(tmp_path: Path) -> None:
    # The alerting service's manager, with an incident open.
    store = IncidentStore(tmp_path / "incidents.sqlite3")
    service = IncidentManager(store, districts={"kim_long": "Phú Xuân"})
    signal = Signal("flood_levels", "kim_long", AlertKind.FLOOD, 2, Severity.CRITICAL, T0)
    transition = service.on_signal(signal)
    assert transition is not None
    service.notified(transition, T0)

    runner = CliRunner()
    data = ["--data-dir", str(tmp_path)]
    listed = runner.invoke(app, ["incidents", "list", *data], env={"COLUMNS": "200"})
    assert "flood_levels:kim_long" in listed.output
    acked = runner.invoke(
        app,
        ["incidents", "ack", "flood_levels:kim_long", "--by", "Trần Văn An",
         "--note", "đã báo xã Hương Long", *data],
    )  # fmt: skip
    assert acked.exit_code == 0, acked.output
    unknown = runner.invoke(app, ["incidents", "ack", "nothing:here", "--by", "x", *data])
    assert unknown.exit_code == 2
    silenced = runner.invoke(
        app, ["incidents", "silence", "--by", "kỹ thuật", "--comment", "bảo trì",
              "--station", "kim_long", "--receiver", "ky_thuat", "--hours", "1", *data],
    )  # fmt: skip
    assert silenced.exit_code == 0, silenced.output
    everything = runner.invoke(app, ["incidents", "silence", "--by", "x", "--comment", "y", *data])
    assert everything.exit_code == 2

    # The service takes the acknowledgement on its next tick, and the silence at once.
    service.sync_acks()
    incident = service.open["flood_levels:kim_long"]
    assert (incident.acked_by, incident.ack_note) == ("Trần Văn An", "đã báo xã Hương Long")
    assert service.repeats(T0 + timedelta(hours=5)) == []
    assert service.silenced(incident, datetime.now(UTC)) is not None
    store.close()
