"""Every shipped template, rendered for every rule type, against the facts the rules really give.

Issue 11: every Zalo message to the committee failed with "fact 'value' is missing" — the
samples and docs/notifiers.md said ``{facts.value}`` while the facts reached the notifiers
nested under the incident id. Here the facts are not written by hand: the example site's own
rules (one of each type, plus a declared-levels threshold) run over two days of a storm, through
the incident stage and the grouping that build the notifications, and every template shipped —
examples/, alerting/notifiers/samples/, the YAML of docs/ — is filled from each notification the
way its notifier fills it. A template asking for a fact a rule does not give fails here, not in
a flood.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import yaml

from alerting.incidents import IncidentManager, IncidentStore, Transition
from alerting.model import AlertKind, Notification, NotificationState, Severity
from alerting.notifiers.sms import SmsConfig, sms_segments, sms_text, strip_diacritics
from alerting.notifiers.webhook import webhook_body, webhook_payload
from alerting.notifiers.zalo import ZaloConfig, ZnsTemplate, template_data
from alerting.routing import Grouper, render_transitions
from alerting.rules import Evaluator, load_rules, parse_rules
from gateway.model import Quality, Reading
from quantrac.site import load_site

ROOT = Path(__file__).parents[2]
EXAMPLES = ROOT / "examples"
SAMPLES = ROOT / "alerting" / "notifiers" / "samples"
DOCS = ROOT / "docs"

T0 = datetime(2025, 11, 21, 17, 0, tzinfo=UTC)  # 00:00 on 22 November in Huế
STEP = timedelta(minutes=5)
HOURS = 48

# A declared-levels threshold (the example site has only flood levels): low oxygen at Vạn Niên.
LOW_OXYGEN = {
    "id": "low_oxygen",
    "type": "threshold",
    "stations": ["van_nien"],
    "param": "do",
    "levels": [
        {"below": 4.0, "recovery": 4.5, "label": "DO thấp"},
        {"below": 2.0, "recovery": 2.5, "label": "DO rất thấp", "severity": "critical"},
    ],
}


def _tri(hour: float, base: float, start: float, rate: float, peak: float) -> float:
    """A flood wave: ``base`` until ``start``, up at ``rate`` per hour to ``peak``, down again."""
    up = (peak - base) / rate
    if hour <= start:
        return base
    if hour <= start + up:
        return round(base + rate * (hour - start), 3)
    return round(max(base, peak - rate * (hour - start - up)), 3)


def _hourly(hour: float, values: list[float], start: int) -> float | None:
    """One value a whole hour, ``values`` from hour ``start`` (None between hours)."""
    if hour != int(hour):
        return None
    index = int(hour) - start
    return values[min(max(index, 0), len(values) - 1)] if index >= 0 else values[0]


def readings_at(hour: float, ts: datetime) -> list[Reading]:
    """Two days of a storm on the example site, one instant."""
    out: list[tuple[str, str, float, str]] = []
    # The Hương at Kim Long (BĐ 1.0/2.0/3.5 m) to 3.90 m; the Bồ at Phú Ốc (1.5/3.0/4.5 m) to
    # 3.40 m first, raising Kim Long's warning by one level while it is at BĐ II (the link).
    out.append(("kim_long", "water_level", _tri(hour, 0.5, 1.0, 0.3, 3.9), "m"))
    phu_oc_offline = 30.0 <= hour < 30.25
    if not phu_oc_offline:
        out.append(("phu_oc", "water_level", _tri(hour, 1.0, 1.0, 0.25, 3.4), "m"))
    out.append(("phu_oc", "station_online", 0.0 if phu_oc_offline else 1.0, ""))
    # Nam Đông's tip counter (0.2 mm a tip), as its logger serves it: 5 mm every 5 minutes
    # for four hours (240 mm: risk level 3 in the mountains), then dry.
    tips = 25 * 12 * min(max(hour - 2.0, 0.0), 4.0)
    out.append(("nam_dong", "rain_counter", round(tips), ""))
    # Huế: the wind up to 26 m/s (cấp 10), gusts 1.4 times it; silent for half an hour at 20:00.
    if not 20.0 <= hour < 20.5:
        speed = _tri(hour, 3.0, 6.0, 4.0, 26.0)
        out.append(("hue_weather", "wind_speed", speed, "m/s"))
        out.append(("hue_weather", "wind_gust", round(speed * 1.4, 1), "m/s"))
    aqi = _hourly(hour, [60, 120, 130, 160, 210, 160, 120, 60], 3)
    if aqi is not None:
        out.append(("hue_air", "vn_aqi_h", aqi, ""))
    wqi = _hourly(hour, [70, 45, 40, 40, 20, 20, 20, 45, 60, 80, 80, 80], 2)
    if wqi is not None:
        out.append(("van_nien", "vn_wqi", wqi, ""))
    # Dissolved oxygen at Vạn Niên: 7.0 mg/L down to 1.5 and back (the declared levels).
    out.append(("van_nien", "do", round(7.0 - _tri(hour, 0.0, 4.0, 1.0, 5.5), 3), "mg/L"))
    # xlnt_phu_bai sends nothing at all: "chưa gửi số liệu".
    return [
        Reading(station, param, value, unit, ts, quality=Quality.GOOD, reason=reason)
        for station, param, value, unit in out
        for reason in ("pm25" if param == "vn_aqi_h" else "",)
    ]


@dataclass(frozen=True)
class Storm:
    notifications: list[Notification]
    transitions: list[Transition]


@pytest.fixture(scope="module")
def storm(tmp_path_factory: pytest.TempPathFactory) -> Storm:
    site = load_site(EXAMPLES / "hue")
    rules = [*load_rules(EXAMPLES / "hue" / "rules.yaml"), *parse_rules([LOW_OXYGEN])]
    evaluator = Evaluator(rules, site.stations)
    districts = {s.id: s.district for s in site.stations.values()}
    store = IncidentStore(tmp_path_factory.mktemp("storm") / "incidents.sqlite3")
    hour_later = dict.fromkeys(Severity, timedelta(hours=1))  # reminders within the storm
    incidents = IncidentManager(store, districts=districts, repeat_after=hour_later)
    # One grouping as the example's (kind, district), one as wide as it gets (kind): several
    # stations in one message, with the facts of the others under "others".
    groupers = [
        Grouper(timedelta(0), by, districts, render_transitions, current=evaluator.current)
        for by in (["kind", "district"], ["kind"])
    ]
    notifications: list[Notification] = []
    transitions: list[Transition] = []
    evaluator.tick(T0 - timedelta(seconds=30))
    for step in range(int(HOURS * 3600 / STEP.total_seconds())):
        ts = T0 + step * STEP
        now = ts + timedelta(seconds=30)
        signals = evaluator.on_batch(readings_at(step * STEP / timedelta(hours=1), ts))
        signals += evaluator.tick(now)
        changes = [t for s in signals if (t := incidents.on_signal(s)) is not None]
        changes += incidents.repeats(now)
        for grouper in groupers:
            for transition in changes:
                grouper.add(transition, now)
            notifications += grouper.due(now, everything=True)
        for transition in changes:
            incidents.notified(transition, now)
        transitions += changes
    store.close()
    return Storm(notifications, transitions)


def test_the_storm_exercises_every_rule_type_and_change(storm: Storm) -> None:
    """The facts below come from every rule type, in every kind of change, grouped or not."""
    seen = {(n.facts.get("rule_type"), n.state) for n in storm.notifications}
    firing, resolved = NotificationState.FIRING, NotificationState.RESOLVED
    for rule_type in ("threshold", "trend", "accumulation", "index", "wind", "deadman"):
        assert {(rule_type, firing), (rule_type, resolved)} <= seen, rule_type
    threshold = {state for rule_type, state in seen if rule_type == "threshold"}
    assert set(NotificationState) <= threshold  # escalated, deescalated, repeat, crest too
    assert any(n.facts.get("raised_by") == "bo_raises_huong" for n in storm.notifications)
    assert any(n.facts.get("reason") == "offline" for n in storm.notifications)
    assert any(n.facts.get("flood_levels") is not True and n.facts.get("rule_type") ==
               "threshold" for n in storm.notifications)  # fmt: skip
    assert any(n.facts.get("others") for n in storm.notifications)


def test_facts_are_flat_and_about_the_incident_the_message_is_about(storm: Storm) -> None:
    for notification in storm.notifications:
        facts = notification.facts
        # Flat: the rule's own facts at the top, never keyed by incident id (issue 11).
        assert not set(facts) & set(notification.incidents)
        assert facts["station_id"] == notification.stations[0]
        assert facts["station_name"]
        assert facts["station_name"] != facts["station_id"]
        others = facts.get("others", [])
        assert len(others) == len(notification.incidents) - 1
        assert [o["incident"] for o in others] == list(notification.incidents[1:])
        for other in others:
            assert {"station_id", "station_name", "state", "level", "severity"} <= set(other)
        assert (notification.state is NotificationState.REPEAT) == bool(facts.get("reminder"))


def test_a_reminder_carries_the_current_value_and_time(storm: Storm) -> None:
    reminders = [
        n for n in storm.notifications
        if n.state is NotificationState.REPEAT and n.facts.get("flood_levels")
        and not n.facts.get("others")
    ]  # fmt: skip
    assert len(reminders) > 5
    for reminder in reminders:
        assert reminder.text.startswith("[NHẮC LẠI] [BÁO ĐỘNG")
        changed = max(
            t.incident.updated_at for t in storm.transitions
            if t.incident.id == reminder.incidents[0] and t.change is not NotificationState.REPEAT
            and t.incident.updated_at <= reminder.created_at
        )  # fmt: skip
        # Not the change again: the reading of now, an hour or more after the change.
        ts = datetime.fromisoformat(reminder.facts["ts"])
        assert ts - changed >= timedelta(minutes=55)
        assert reminder.created_at - ts < STEP
        hour = (ts - T0) / timedelta(hours=1)
        (now,) = [r for r in readings_at(hour, ts) if (r.station, r.param) ==
                  (reminder.stations[0], "water_level")]  # fmt: skip
        assert reminder.facts["value"] == now.value


# -- the shipped templates --------------------------------------------------------------------


def _yaml_blocks(path: Path) -> Iterator[Any]:
    for block in re.findall(r"```yaml\n(.*?)```", path.read_text(encoding="utf-8"), re.S):
        try:
            yield yaml.safe_load(block)
        except yaml.YAMLError:
            continue


def _notifier_documents() -> Iterator[tuple[str, str, dict[str, Any]]]:
    """(where, channel, config) of every notifier config shipped: the example sites'
    alerting.yaml, the samples, and the YAML blocks of docs/."""
    for path in sorted(EXAMPLES.glob("*/alerting.yaml")):
        document = yaml.safe_load(path.read_text(encoding="utf-8"))
        for channel, config in (document.get("notifiers") or {}).items():
            yield f"{path.relative_to(ROOT)}:{channel}", channel, config or {}
    for path in sorted(SAMPLES.glob("*.yaml")):
        channel = path.stem.split("-")[0]
        yield str(path.relative_to(ROOT)), channel, yaml.safe_load(path.read_text("utf-8")) or {}
    for path in sorted(DOCS.glob("*.md")):
        for index, block in enumerate(_yaml_blocks(path)):
            if not isinstance(block, dict):
                continue
            where = f"{path.relative_to(ROOT)}#yaml{index}"
            if "template" in block or "templates_by_kind" in block:
                yield where, "zalo", block
            elif "provider" in block and "message" in block:
                yield where, "sms", block
            for channel in ("sms", "zalo"):  # an alerting.yaml in the docs
                nested = (block.get("notifiers") or {}).get(channel)
                if isinstance(nested, dict):
                    yield f"{where}:{channel}", channel, nested


def zns_templates() -> list[tuple[str, AlertKind | None, ZnsTemplate]]:
    found: list[tuple[str, AlertKind | None, ZnsTemplate]] = []
    for where, channel, document in _notifier_documents():
        if channel != "zalo":
            continue
        if "template" in document:
            found.append((where, None, ZnsTemplate.model_validate(document["template"])))
        for kind, template in (document.get("templates_by_kind") or {}).items():
            found.append((f"{where}:{kind}", AlertKind(kind), ZnsTemplate.model_validate(template)))
    return found


def sms_messages() -> list[tuple[str, SmsConfig]]:
    found = []
    for where, channel, document in _notifier_documents():
        if channel == "sms" and "message" in document:
            found.append((where, SmsConfig.model_validate(_sms_core(document))))
    return found


def _sms_core(document: dict[str, Any]) -> dict[str, Any]:
    """What decides the text (the docs' block elides its URL and sms_type with "…")."""
    keep = ("message", "without_diacritics", "max_segments")
    core = {k: v for k, v in document.items() if k in keep}
    return {
        "provider": "custom",
        "request": {"url": "https://sms.example.vn", "fields": {}},
        **core,
    }


ZALO = ZaloConfig.model_validate(
    {"app_id": "1", "template": {"template_id": "1", "data": {"t": "{text}"}}}
)
ZNS = zns_templates()
SMS = sms_messages()


def test_every_shipped_template_is_found() -> None:
    wheres = {where for where, _, _ in ZNS} | {where for where, _ in SMS}
    assert any(w.startswith("alerting/notifiers/samples/zalo.yaml:flood") for w in wheres)
    assert any(w.startswith("docs/notifiers.md") and w.endswith(":flood") for w in wheres)
    assert "examples/hue/alerting.yaml:sms" in wheres
    assert "alerting/notifiers/samples/sms.yaml" in wheres
    assert any(w.startswith("docs/notifiers.md") for w, _ in SMS)


def _fill(template: ZnsTemplate, notification: Notification) -> dict[str, str]:
    return template_data(template, notification, ZALO)


@pytest.mark.parametrize(("where", "kind", "template"), ZNS, ids=[w for w, _, _ in ZNS])
def test_each_zns_template_renders_for_every_notification_it_serves(
    storm: Storm, where: str, kind: AlertKind | None, template: ZnsTemplate
) -> None:
    served = [n for n in storm.notifications if kind is None or n.kind is kind]
    assert served, f"{where}: no notification of kind {kind}"
    for notification in served:
        try:
            data = _fill(template, notification)
        except KeyError as exc:
            pytest.fail(
                f"{where}: {exc.args[0]} for a {notification.facts.get('rule_type')} "
                f"{notification.state} notification: {notification.title}"
            )
        for name, value in data.items():
            assert "{" not in value, (where, name, value)
            if "{station}" in template.data[name]:  # a person reads the name, not "kim_long"
                assert notification.stations[0] not in value, (where, name, value)


def test_the_flood_template_of_the_sample(storm: Storm) -> None:
    (template,) = [t for w, k, t in ZNS if w == "alerting/notifiers/samples/zalo.yaml:flood"]
    bd2 = next(
        n for n in storm.notifications
        if n.kind is AlertKind.FLOOD and n.state is NotificationState.ESCALATED and n.level == 2
        and n.facts.get("rule_type") == "threshold" and not n.facts.get("others")
    )  # fmt: skip
    data = _fill(template, bd2)
    assert data["tram"] == "Kim Long"  # the name, not "kim_long" (issue 11)
    assert data["cap_bao_dong"] == "BĐ II"
    assert re.fullmatch(r"\d,\d{1,2} m", data["muc_nuoc"]), data


def test_a_missing_fact_fails_here() -> None:
    """The check above can fail: a template asking for a fact a rule does not give."""
    asking = ZnsTemplate.model_validate({"template_id": "9", "data": {"d": "{facts.crest_m}"}})
    station = Notification(
        key="k", state=NotificationState.FIRING, kind=AlertKind.STATION, severity=Severity.WARNING,
        level=1, title="t", text="x", text_en="x", created_at=T0, stations=("kim_long",),
        facts={"station_id": "kim_long", "station_name": "Kim Long", "reason": "no_data"},
    )  # fmt: skip
    with pytest.raises(KeyError, match="fact 'crest_m' is missing"):
        _fill(asking, station)


@pytest.mark.parametrize(("where", "config"), SMS, ids=[w for w, _ in SMS])
def test_each_sms_message_renders_and_a_flood_warning_is_one_sms(
    storm: Storm, where: str, config: SmsConfig
) -> None:
    for notification in storm.notifications:
        text = sms_text(config, notification)
        assert "{" not in text
        if not notification.facts.get("others"):
            # The text starts with the title: said once, not twice (issue 11: two SMS).
            title = strip_diacritics(notification.title) if config.without_diacritics else None
            assert text.count(title or notification.title) == 1, (where, text)
    if not config.without_diacritics:
        return
    floods = [
        n for n in storm.notifications
        if n.kind is AlertKind.FLOOD and not n.facts.get("others")
        and n.state is not NotificationState.REPEAT
    ]  # fmt: skip
    assert floods
    for notification in floods:
        text = sms_text(config, notification)
        assert sms_segments(text) == ("gsm7", 1), f"{where}: {len(text)} characters: {text}"


def test_the_webhook_body_is_the_documented_one(storm: Storm) -> None:
    documented = json.loads(
        re.search(
            r"### The contract \(version 1\).*?```json\n(.*?)```",
            (DOCS / "notifiers.md").read_text(encoding="utf-8"),
            re.S,
        ).group(1)  # type: ignore[union-attr]
    )
    bd2 = next(
        n for n in storm.notifications
        if n.kind is AlertKind.FLOOD and n.level == 2 and n.facts.get("rule_type") == "threshold"
        and not n.facts.get("others")
    )  # fmt: skip
    payload = webhook_payload(bd2)
    assert set(payload) == set(documented)
    # Every fact the documented example shows, a real flood notification has, flat.
    assert set(documented["facts"]) <= set(payload["facts"])
    assert json.loads(webhook_body(bd2))["facts"]["label"] == "BĐ II"
    for notification in storm.notifications:
        webhook_body(notification)  # every notification serialises (no NaN, no datetimes)
