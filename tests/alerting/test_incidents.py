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


def test_a_silence_mutes_the_receivers_it_names_and_an_old_one_everyone(
    store: IncidentStore,
) -> None:
    manager = IncidentManager(store, districts={"kim_long": "Phú Xuân"})
    kim_long = manager.on_signal(signal(1, 0))
    assert kim_long is not None
    at = T0 + timedelta(minutes=5)
    technicians = store.add_silence(
        Silence(0, T0, T0 + timedelta(hours=2), "kỹ thuật viên", "thay cảm biến",
                station="kim_long", maintenance=True, receivers=("ky_thuat",))
    )  # fmt: skip
    assert manager.silenced(kim_long.incident, at, "ky_thuat") == technicians
    assert manager.silenced(kim_long.incident, at, "ban_chi_huy") is None  # not the committee
    assert manager.silenced(kim_long.incident, at) == technicians  # muted for someone
    store.expire_silence(technicians.id, at)
    assert manager.silenced(kim_long.incident, at, "ky_thuat") is None
    assert [s.id for s in store.silences(at, ended_since=T0)] == [technicians.id]
    everyone = store.add_silence(
        Silence(0, T0, T0 + timedelta(hours=2), "trực ban", "diễn tập", district="Phú Xuân")
    )
    assert manager.silenced(kim_long.incident, at, "ban_chi_huy") == everyone
    with pytest.raises(KeyError):
        store.expire_silence(999, at)


def test_a_resolution_saved_but_never_handed_on_is_unnotified_after_a_restart(
    store: IncidentStore, tmp_path: Path
) -> None:
    manager = IncidentManager(store)
    fired = manager.on_signal(signal(2, 0))
    assert fired is not None
    manager.notified(fired, T0)
    resolved = manager.on_signal(signal(0, 1))  # saved; the process dies before sending it
    assert resolved is not None
    again = manager.on_signal(signal(1, 2))  # a new incident of the same rule and station
    assert again is not None
    store.close()

    restarted = IncidentManager(IncidentStore(tmp_path / "incidents.sqlite3"))
    pending = {t.key: t.change for t in restarted.unnotified()}
    assert pending == {
        again.key: NotificationState.FIRING,
        resolved.key: NotificationState.RESOLVED,
    }
    # Once handed on, it is not pending any more; the newer incident is left as it is.
    restarted.notified(resolved, T0 + timedelta(minutes=3))
    assert [t.key for t in restarted.unnotified()] == [again.key]
    assert restarted.open["flood_bd:kim_long"].started_at == again.incident.started_at


def test_silences_and_the_queues_from_the_command_line(tmp_path: Path) -> None:
    from typer.testing import CliRunner

    from alerting.delivery import Covered, Destination
    from alerting.delivery_store import DeliveryStore
    from quantrac.cli import app
    from tests.alerting.receivers import flood_notification

    IncidentStore(tmp_path / "incidents.sqlite3").close()
    runner = CliRunner()
    data = ["--data-dir", str(tmp_path)]
    env = {"COLUMNS": "250"}
    common = ["incidents", "silence", "--by", "kỹ thuật", "--comment", "thay cảm biến",
              "--station", "kim_long", *data]  # fmt: skip
    refused = runner.invoke(app, common, env=env)
    assert refused.exit_code == 2
    assert "--receiver NAME" in refused.output
    made = runner.invoke(app, [*common, "--receiver", "ky_thuat", "--maintenance"], env=env)
    assert made.exit_code == 0, made.output
    assert "for ky_thuat" in made.output
    listed = runner.invoke(app, ["silences", "list", *data], env=env)
    assert "ky_thuat" in listed.output
    assert "kim_long" in listed.output
    ended = runner.invoke(app, ["silences", "expire", "1", *data], env=env)
    assert ended.exit_code == 0, ended.output
    assert "ky_thuat" not in runner.invoke(app, ["silences", "list", *data], env=env).output
    assert runner.invoke(app, ["silences", "expire", "7", *data], env=env).exit_code == 2

    queue = DeliveryStore(tmp_path / "notifications.sqlite3")
    later = datetime.now(UTC) + timedelta(hours=6)
    queue.enqueue(
        [(Destination("ioc", "webhook"), flood_notification(),
          [Covered("flood:kim_long@1", 0, 2, True)], later)],
        datetime.now(UTC),
    )  # fmt: skip
    queue.close()
    shown = runner.invoke(app, ["notifications", "list", *data, "--state", "queued"], env=env)
    assert shown.exit_code == 0, shown.output
    assert "[BÁO ĐỘNG II] Sông Hương tại Kim Long" in shown.output
    assert "ioc" in shown.output
    none = runner.invoke(app, ["notifications", "list", *data, "--receiver", "ban_chi_huy"])
    assert "Kim Long" not in none.output
    bad = runner.invoke(app, ["notifications", "list", *data, "--state", "lost"])
    assert bad.exit_code == 2


async def test_silences_through_the_api(tmp_path: Path) -> None:
    import httpx

    from collector.store.sqlite import SqliteStore
    from quantrac.api import ApiContext, create_app
    from quantrac.auth import ApiSecurity, KeyStore, Role

    incidents = IncidentStore(tmp_path / "incidents.sqlite3")
    store = SqliteStore(tmp_path / "q.sqlite3")
    keys = KeyStore(tmp_path / "api-keys.sqlite3")
    _, key = keys.create("trực ban", Role.OPERATOR, datetime.now(UTC))
    app = create_app(ApiContext(store=store, incidents=incidents, security=ApiSecurity(keys)))
    transport = httpx.ASGITransport(app=app)
    silence = {"by": "kỹ thuật", "comment": "thay cảm biến", "station": "kim_long", "hours": 1}
    headers = {"Authorization": f"Bearer {key}"}
    async with httpx.AsyncClient(transport=transport, base_url="http://a", headers=headers) as api:
        unscoped = await api.post("/silences", json=silence)
        made = await api.post("/silences", json={**silence, "receivers": ["ky_thuat"]})
        everyone = await api.post("/silences", json={**silence, "all": True})
        listed = (await api.get("/silences")).json()
        ended = await api.delete(f"/silences/{made.json()['id']}")
        after = (await api.get("/silences")).json()
        missing = await api.delete("/silences/99")
    assert unscoped.status_code == 422
    assert made.status_code == 201
    assert made.json()["receivers"] == ["ky_thuat"]
    assert everyone.json()["receivers"] is None
    assert [s["id"] for s in listed] == [made.json()["id"], everyone.json()["id"]]
    assert ended.status_code == 200
    assert [s["id"] for s in after] == [everyone.json()["id"]]
    assert missing.status_code == 404
    store.close()
    incidents.close()
