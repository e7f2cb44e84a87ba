"""Incidents from signals: firing, escalation, recovery, acknowledgement, silences, restarts."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from alerting.incidents import IncidentManager, IncidentState, IncidentStore, Silence
from alerting.model import AlertKind, NotificationState, Severity, Signal

T0 = datetime(2026, 11, 22, 16, 0, tzinfo=UTC)
LEVEL_SEVERITY = {
    0: Severity.INFO,
    1: Severity.WARNING,
    2: Severity.CRITICAL,
    3: Severity.EMERGENCY,
}


def signal(level: int, minute: int, station: str = "kim_long") -> Signal:
    return Signal(
        rule="flood_bd",
        station=station,
        kind=AlertKind.FLOOD,
        level=level,
        severity=LEVEL_SEVERITY[level],
        ts=T0 + timedelta(minutes=minute),
        param="water_level",
        value=1.0 + level,
    )


@pytest.fixture
def store(tmp_path: Path) -> IncidentStore:
    return IncidentStore(tmp_path / "incidents.sqlite3")


def changes(manager: IncidentManager, levels: list[int]) -> list[str | None]:
    out = []
    for minute, level in enumerate(levels):
        transition = manager.on_signal(signal(level, minute))
        out.append(transition.change.value if transition else None)
    return out


@pytest.mark.parametrize(
    ("levels", "expected"),
    [
        (
            [1, 2, 3, 2, 1, 0],
            ["firing", "escalated", "escalated", "deescalated", "deescalated", "resolved"],
        ),
        ([0, 0, 1, 1, 1, 0], [None, None, "firing", None, None, "resolved"]),
        ([2, 0, 2], ["firing", "resolved", "firing"]),  # a new incident, with a new key
        ([3, 1, 3], ["firing", "deescalated", "escalated"]),
    ],
)  # fmt: skip
def test_level_changes(store: IncidentStore, levels: list[int], expected: list[str | None]) -> None:
    assert changes(IncidentManager(store), levels) == expected


def test_each_change_has_its_own_key_and_a_new_incident_a_new_one(store: IncidentStore) -> None:
    manager = IncidentManager(store)
    keys = []
    for minute, level in enumerate([1, 2, 0, 1]):
        transition = manager.on_signal(signal(level, minute))
        assert transition is not None
        keys.append(transition.key)
    assert len(set(keys)) == 4


def test_a_restart_keeps_open_incidents_and_what_was_notified(
    store: IncidentStore, tmp_path: Path
) -> None:
    manager = IncidentManager(store)
    first = manager.on_signal(signal(2, 0))
    assert first is not None
    manager.notified(first, T0)
    second = manager.on_signal(signal(3, 1))  # saved, the process dies before sending it
    assert second is not None
    store.close()

    again = IncidentManager(IncidentStore(tmp_path / "incidents.sqlite3"))
    (incident,) = again.open.values()
    assert (incident.level, incident.state) == (3, IncidentState.FIRING)
    # Only the change that was never sent is sent after the restart, with the same key.
    (pending,) = again.unnotified()
    assert pending.key == second.key
    assert again.on_signal(signal(3, 2)) is None  # the same level again: nothing new


def test_repeats_until_acknowledged(store: IncidentStore) -> None:
    manager = IncidentManager(store, repeat_after={s: timedelta(hours=1) for s in Severity})
    fired = manager.on_signal(signal(2, 0))
    assert fired is not None
    manager.notified(fired, T0)
    assert manager.repeats(T0 + timedelta(minutes=59)) == []
    (reminder,) = manager.repeats(T0 + timedelta(hours=1))
    assert reminder.change is NotificationState.REPEAT
    manager.notified(reminder, T0 + timedelta(hours=1))
    manager.acknowledge("flood_bd:kim_long", "Trần Văn An", "đã báo xã", T0 + timedelta(hours=1))
    assert manager.repeats(T0 + timedelta(hours=5)) == []
    # A higher level asks for attention again.
    escalated = manager.on_signal(signal(3, 300))
    assert escalated is not None
    assert escalated.incident.acked_by is None


def test_silences_match_station_rule_and_district(store: IncidentStore) -> None:
    manager = IncidentManager(
        store, districts={"kim_long": "Thành phố Huế", "phu_oc": "Phong Điền"}
    )
    maintenance = Silence(
        0, T0, T0 + timedelta(hours=2), "kỹ thuật viên", "bảo trì trạm",
        district="Thành phố Huế", maintenance=True,
    )  # fmt: skip
    store.add_silence(maintenance)
    kim_long = manager.on_signal(signal(1, 0))
    phu_oc = manager.on_signal(signal(1, 0, station="phu_oc"))
    assert kim_long is not None
    assert phu_oc is not None
    assert manager.silenced(kim_long.incident, T0 + timedelta(minutes=5)) is not None
    assert manager.silenced(phu_oc.incident, T0 + timedelta(minutes=5)) is None
    assert manager.silenced(kim_long.incident, T0 + timedelta(hours=3)) is None
