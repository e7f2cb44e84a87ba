"""Warning messages from Signals, in Vietnamese (with diacritics) and English.

One template per rule type and level, fed only by the Signal (its level, time and ``facts``), so
a message can be rendered again from a stored incident. Vietnamese numbers use the decimal comma
and the thousands dot ("2,25", "1.234,5"); times are local (Asia/Ho_Chi_Minh, UTC+7) as the
committee reads them: "23:40 22/11".

    [BÁO ĐỘNG II] Sông Hương tại Kim Long 2,25 m (trên BĐ II 0,25 m), đang lên 18 cm/giờ,
        23:40 22/11   (one line)
    [HẾT BÁO ĐỘNG] Sông Hương tại Kim Long xuống 1,85 m (dưới BĐ II), 04:10 23/11
    [MƯA LỚN] Nam Đông: mưa 24 giờ 180 mm — rủi ro thiên tai cấp độ 1
    [GIÓ MẠNH] Huế: gió cấp 8, giật cấp 10
    [KHÔNG KHÍ] Huế: VN_AQI 165 (Xấu) — PM2.5
    [MẤT TÍN HIỆU] Trạm Kim Long không gửi số liệu từ 23:10 22/11

Words and names are the domain's: category names exactly as collector.indices prints them
("Kém", "Xấu"), cấp gió as collector.indices.wind labels it ("cấp 8", "giật cấp 10"), the
heavy-rain risk label of collector.indices.rain ("rủi ro thiên tai cấp độ 1").
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from decimal import ROUND_HALF_UP, Decimal
from enum import StrEnum
from typing import Any

from alerting.model import AlertKind, Signal
from collector.indices.common import VIETNAM_TZ, round_half_up
from collector.indices.wind import cap_gio
from gateway.model import local_time

# -- numbers, times, durations ------------------------------------------------------------------


def _fixed(value: float, decimals: int) -> str:
    """``value`` with ``decimals`` places and a comma every thousand, rounded half up on the
    number as written: 1.025 is "1.03" (binary rounding would print "1.02" for the float just
    below it, and "1,02 m (trên BĐ I 0,03 m)" would contradict itself)."""
    if not math.isfinite(value):
        return str(value)
    exact = Decimal(repr(float(value)))
    rounded = exact.quantize(Decimal(1).scaleb(-decimals), rounding=ROUND_HALF_UP)
    if rounded == 0:
        rounded = abs(rounded)  # never "-0,00"
    return f"{rounded:,.{decimals}f}"


def vi_number(value: float, decimals: int = 2) -> str:
    """Vietnamese number format: decimal comma, dot for thousands (1.234,56)."""
    return _fixed(value, decimals).replace(",", "\0").replace(".", ",").replace("\0", ".")


def en_number(value: float, decimals: int = 2) -> str:
    """English number format: decimal point, comma for thousands (1,234.56)."""
    return _fixed(value, decimals)


def vi_time(ts: datetime) -> str:
    """Local time as warnings write it: "23:40 22/11" (Asia/Ho_Chi_Minh, UTC+7) — the one
    format of every time quantrac shows (gateway.model.local_time)."""
    return local_time(ts, VIETNAM_TZ)


class Language(StrEnum):
    VI = "vi"
    EN = "en"


def _num(value: float, decimals: int, lang: Language) -> str:
    return vi_number(value, decimals) if lang is Language.VI else en_number(value, decimals)


def _auto(value: float, lang: Language) -> str:
    """As many decimals as the size of the value deserves: 1.234, 56,8, 3,25."""
    size = abs(value)
    decimals = 0 if size >= 100 else 1 if size >= 10 else 2
    return _num(value, decimals, lang)


def _mm(value: float, lang: Language) -> str:
    """Rain in mm: whole millimetres as integers ("180"), else one decimal ("12,4")."""
    tenths = round(value, 1)
    return _num(tenths, 0 if tenths == int(tenths) else 1, lang)


def _duration(hours: float, lang: Language) -> str:
    """ "40 phút" under an hour (to 10 minutes), else whole hours: "5 giờ" / "5 hours"."""
    if hours < 1:
        minutes = max(10, round_half_up(hours * 6) * 10)
        if minutes < 60:
            return f"{minutes} phút" if lang is Language.VI else f"{minutes} minutes"
        hours = 1
    whole = round_half_up(hours)
    if lang is Language.VI:
        return f"{whole} giờ"
    return f"{whole} hour" if whole == 1 else f"{whole} hours"


ROMAN = ("", "I", "II", "III", "IV", "V", "VI", "VII", "VIII", "IX", "X")


def _roman(level: int) -> str:
    return ROMAN[level] if 0 < level < len(ROMAN) else str(level)


# -- names --------------------------------------------------------------------------------------

AQI_EN = {
    "Tốt": "Good",
    "Trung bình": "Moderate",
    "Kém": "Poor",
    "Xấu": "Bad",
    "Rất xấu": "Very bad",
    "Nguy hại": "Hazardous",
}
WQI_EN = {
    "Rất tốt": "Very good",
    "Tốt": "Good",
    "Trung bình": "Fair",
    "Xấu": "Poor",
    "Kém": "Bad",
    "Ô nhiễm rất nặng": "Heavily polluted",
}
INTENSITY_EN = {"mưa vừa": "moderate rain", "mưa to": "heavy rain", "mưa rất to": "very heavy rain"}


def _label_en(label: str) -> str:
    """Level labels in English: "BĐ II" → "alarm level II", "cấp 8" → "force 8"."""
    if label.startswith("BĐ "):
        return "alarm level " + label[3:]
    if label.startswith("rủi ro thiên tai cấp độ "):
        return "natural-disaster risk level " + label.rsplit(" ", 1)[1]
    if label.startswith("giật "):
        return "gusts " + _label_en(label[5:])
    if label.startswith("trên cấp "):
        return "above force " + label.rsplit(" ", 1)[1]
    if label.startswith("cấp "):
        return "force " + label[4:]
    if label.startswith("mức "):
        return "level " + label[4:]
    if label == "lên nhanh":
        return "rising fast"
    return INTENSITY_EN.get(label, label)


def _label(label: str, lang: Language) -> str:
    return label if lang is Language.VI else _label_en(label)


def _lower_first(text: str) -> str:
    """ "Mực nước" → "mực nước" mid-sentence; acronyms ("PM2.5", "DO") stay as they are."""
    if len(text) > 1 and text[0].isupper() and text[1].islower():
        return text[0].lower() + text[1:]
    return text


def _param(facts: Mapping[str, Any], param: str, lang: Language) -> str:
    """The parameter as a message names it: its label ("Mực nước", "DO") in Vietnamese; in
    English the label when it is a symbol ("DO", "PM2.5"), else the name ("water level")."""
    label = str(facts.get("param_label") or param)
    if lang is Language.VI or label.isascii():
        return label
    return param.replace("_", " ")


def _river(facts: Mapping[str, Any], lang: Language, *, start: bool) -> str | None:
    river = facts.get("river")
    if not river:
        return None
    if lang is Language.EN:
        return f"{river} River"
    return f"{'Sông' if start else 'sông'} {river}"


def _place(facts: Mapping[str, Any], lang: Language, *, start: bool = True) -> str:
    """ "Sông Hương tại Kim Long" / "Hương River at Kim Long"; the station name without a river."""
    name = str(facts.get("station_name", ""))
    river = _river(facts, lang, start=start)
    if river is None:
        return name
    return f"{river} tại {name}" if lang is Language.VI else f"{river} at {name}"


def _station(facts: Mapping[str, Any], lang: Language) -> str:
    """ "Trạm Kim Long" / "Kim Long station" (a name that already says "Trạm" keeps it)."""
    name = str(facts.get("station_name", ""))
    if name.lower().startswith("trạm"):
        return name
    return f"Trạm {name}" if lang is Language.VI else f"{name} station"


def _time(facts: Mapping[str, Any], key: str) -> str | None:
    value = facts.get(key)
    if not value:
        return None
    return vi_time(datetime.fromisoformat(str(value)))


# -- messages -----------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Message:
    """``tag`` "[BÁO ĐỘNG II]", ``subject`` "Sông Hương tại Kim Long", ``body`` the line after the
    tag. ``title`` is tag + subject, ``text`` tag + body (one line, what an SMS carries)."""

    tag: str
    subject: str
    body: str

    @property
    def title(self) -> str:
        return f"{self.tag} {self.subject}"

    @property
    def text(self) -> str:
        return f"{self.tag} {self.body}"


def _margin(facts: Mapping[str, Any], unit: str, lang: Language) -> str:
    """ "trên BĐ II 0,25 m" / "ở mức BĐ II" / "dưới BĐ I 0,20 m", true of the value itself."""
    margin = float(facts.get("margin", 0.0))
    label = str(facts.get("margin_label", ""))
    size = _num(abs(margin), 2, lang)
    if lang is Language.VI:
        if round(margin, 2) == 0:
            return f"ở mức {label}"
        word = "trên" if margin > 0 else "dưới"
        return f"{word} {label} {size} {unit}".rstrip()
    label = _label_en(label)
    if round(margin, 2) == 0:
        return f"at {label}"
    word = "above" if margin > 0 else "below"
    return f"{size} {unit} {word} {label}".replace("  ", " ")


def _rate(facts: Mapping[str, Any], lang: Language) -> str | None:
    """ "đang lên 18 cm/giờ" / "rising 18 cm/h"; None when unknown, steady or under 1 cm/h.

    The word is the rule's ``trend`` (alerting/rules/crest.py: what the last readings say), so
    after the turn it is "đang xuống", never the last hour's "đang lên" (issue 11)."""
    rate = facts.get("rate_cm_h")
    if rate is None or facts.get("trend") == "steady" or round(abs(float(rate))) < 1:
        return None
    size = _num(abs(float(rate)), 0, lang)
    if lang is Language.VI:
        return f"{'đang lên' if rate > 0 else 'đang xuống'} {size} cm/giờ"
    return f"{'rising' if rate > 0 else 'falling'} {size} cm/h"


def _clock(value: object, reference: datetime) -> str:
    """A time said beside another: "17:45" on the same local day, else "17:45 22/11"."""
    ts = datetime.fromisoformat(str(value))
    local, ref = ts.astimezone(VIETNAM_TZ), reference.astimezone(VIETNAM_TZ)
    return local.strftime("%H:%M") if local.date() == ref.date() else vi_time(ts)


def _crest(facts: Mapping[str, Any], ts: datetime, lang: Language, *, ended: bool) -> str | None:
    """ "đỉnh lũ 3,82 m lúc 17:45" / "crest 3.82 m at 17:45", once the fall is confirmed
    (``crest_passed``) or the alarm is over; None before."""
    crest, at = facts.get("crest_m"), facts.get("crest_at")
    if crest is None or not at or not (facts.get("crest_passed") or ended):
        return None
    value, when = _num(float(crest), 2, lang), _clock(at, ts)
    return f"đỉnh lũ {value} m lúc {when}" if lang is Language.VI else f"crest {value} m at {when}"


def _raised(facts: Mapping[str, Any], lang: Language) -> str | None:
    """Why an upstream link raised the level: "nâng mức do lũ thượng nguồn: sông Bồ tại Phú Ốc
    ở BĐ II"."""
    if not facts.get("raised_by"):
        return None
    upstream = {"station_name": facts.get("raised_by_station_name", facts.get("raised_by_station"))}
    if facts.get("raised_by_river"):
        upstream["river"] = facts["raised_by_river"]
    where = _place(upstream, lang, start=False)
    label = str(facts.get("raised_by_label", ""))
    if lang is Language.VI:
        return f"nâng mức do lũ thượng nguồn: {where} ở {label}"
    return f"raised for the flood upstream: {where} at {_label_en(label)}"


def _flood(signal: Signal, lang: Language) -> Message:
    facts = signal.facts
    place = _place(facts, lang)
    value = _num(float(signal.value if signal.value is not None else facts["value"]), 2, lang)
    when = vi_time(signal.ts)
    vi = lang is Language.VI
    previous = int(facts.get("previous_level", 0))
    previous_label = _label(str(facts.get("previous_label", "")), lang)
    crest = _crest(facts, signal.ts, lang, ended=signal.level == 0)
    after = f"; {crest}" if crest else ""
    if signal.level == 0:
        tag = "[HẾT BÁO ĐỘNG]" if vi else "[FLOOD ALARM OVER]"
        below = f"dưới {previous_label}" if vi else f"below {previous_label}"
        went = "xuống" if vi else "down to"
        return Message(tag, place, f"{place} {went} {value} m ({below}), {when}{after}")
    margin = _margin(facts, "m", lang)
    if facts.get("event") == "crest" and crest:
        # The crest is news of its own, once the fall is confirmed (issue 11).
        tag = "[ĐỈNH LŨ]" if vi else "[FLOOD CREST]"
        now = "nay" if vi else "now"
        parts = [f"{place}: {crest}, {now} {value} m ({margin})"]
        parts += [p for p in (_rate(facts, lang),) if p]
        return Message(tag, place, f"{', '.join(parts)}, {when}")
    tag = f"[BÁO ĐỘNG {_roman(signal.level)}]" if vi else f"[FLOOD ALARM {_roman(signal.level)}]"
    if previous > signal.level:
        went = "xuống " if vi else "down to "
        state = f"dưới {previous_label}, {margin}" if vi else f"below {previous_label}, {margin}"
    else:
        went, state = "", margin
    parts = [f"{place} {went}{value} m ({state})"]
    parts += [p for p in (_rate(facts, lang),) if p]
    raised = _raised(facts, lang)
    body = ", ".join(parts)
    if raised:
        body += f"; {raised}"
    return Message(tag, place, f"{body}, {when}{after}")


def _threshold(signal: Signal, lang: Language) -> Message:
    facts = signal.facts
    if facts.get("flood_levels") or signal.kind is AlertKind.FLOOD:
        return _flood(signal, lang)
    vi = lang is Language.VI
    name = str(facts.get("station_name", ""))
    unit = str(facts.get("unit", ""))
    what = _param(facts, signal.param, lang)
    value = _auto(float(signal.value if signal.value is not None else 0.0), lang)
    reading = f"{what} {value} {unit}".rstrip()
    when = vi_time(signal.ts)
    if signal.level == 0:
        tag = "[HẾT CẢNH BÁO]" if vi else "[CLEARED]"
        return Message(tag, name, f"{name}: {reading}, {when}")
    tag = "[CẢNH BÁO]" if vi else "[WARNING]"
    threshold = _auto(float(facts.get("level_threshold", facts.get("threshold", 0.0))), lang)
    above = facts.get("direction", "above") == "above"
    if vi:
        side = f"{'trên' if above else 'dưới'} ngưỡng {threshold} {unit}".rstrip()
    else:
        side = f"{'above' if above else 'below'} {threshold} {unit}".rstrip()
    label = _label(str(facts.get("label", "")), lang)
    return Message(tag, name, f"{name}: {reading} — {label} ({side}), {when}")


def _trend(signal: Signal, lang: Language) -> Message:
    facts = signal.facts
    vi = lang is Language.VI
    when = vi_time(signal.ts)
    value = float(signal.value if signal.value is not None else 0.0)
    unit = str(facts.get("unit", ""))
    if unit == "m":
        subject = _place(facts, lang)
        reading = f"{subject} {_num(value, 2, lang)} m"
        rate = _rate(facts, lang)
    else:
        subject = str(facts.get("station_name", ""))
        what = _param(facts, signal.param, lang)
        reading = f"{subject}: {what} {_auto(value, lang)} {unit}".rstrip()
        per_hour = facts.get("rate_per_h")
        rate = None
        if per_hour is not None:
            size = _auto(abs(float(per_hour)), lang)
            up = float(per_hour) > 0
            if vi:
                rate = f"{'đang tăng' if up else 'đang giảm'} {size} {unit}/giờ"
            else:
                rate = f"{'rising' if up else 'falling'} {size} {unit}/h"
    if signal.level == 0:
        tag = "[NƯỚC LÊN CHẬM LẠI]" if vi else "[RISE SLOWING]"
        if facts.get("trend") == "falling":
            # Past the turn: the rise has not slowed, it has ended (issue 11).
            tag = "[NƯỚC ĐANG XUỐNG]" if vi else "[WATER FALLING]"
        if unit != "m":
            tag = "[HẾT TĂNG NHANH]" if vi else "[RISE SLOWING]"
        steady = "ít biến đổi" if vi else "steady"
        return Message(tag, subject, f"{reading}, {rate or steady}, {when}")
    tag = "[NƯỚC LÊN NHANH]" if vi else "[RAPID RISE]"
    if unit != "m":
        tag = "[TĂNG NHANH]" if vi else "[RAPID RISE]"
    body = ", ".join(p for p in (reading, rate) if p)
    if facts.get("eta_hours") is not None and facts.get("next_label"):
        duration = _duration(float(facts["eta_hours"]), lang)
        target = _label(str(facts["next_label"]), lang)
        if vi:
            body += f" — dự kiến đạt {target} sau khoảng {duration} nếu giữ tốc độ này"
        else:
            body += f" — expected to reach {target} in about {duration} if the rise holds"
    return Message(tag, subject, f"{body}, {when}")


def _rain(signal: Signal, lang: Language) -> Message:
    facts = signal.facts
    vi = lang is Language.VI
    name = str(facts.get("station_name", ""))
    hours = float(facts.get("window_hours", 24))
    span = _num(hours, 0 if hours == int(hours) else 1, lang)
    total = float(signal.value if signal.value is not None else facts.get("total_mm", 0.0))
    amount = f"{_mm(total, lang)} mm"
    if facts.get("incomplete"):
        amount = f"ít nhất {amount}" if vi else f"at least {amount}"
    if vi:
        reading = f"{name}: mưa {span} giờ {amount}"
    else:
        reading = f"{name}: {amount} of rain in {span} hour{'s' if hours != 1 else ''}"
    if signal.level == 0:
        return Message("[HẾT MƯA LỚN]" if vi else "[HEAVY RAIN OVER]", name, reading)
    label = _label(str(facts.get("label", "")), lang)
    return Message("[MƯA LỚN]" if vi else "[HEAVY RAIN]", name, f"{reading} — {label}")


def _wind(signal: Signal, lang: Language) -> Message:
    facts = signal.facts
    vi = lang is Language.VI
    name = str(facts.get("station_name", ""))
    sustained = cap_gio(facts.get("wind_speed"))
    gust = cap_gio(facts.get("wind_gust"))
    parts = []
    if sustained is not None:
        parts.append(f"gió {sustained.label}" if vi else f"wind {_label_en(sustained.label)}")
    if gust is not None:
        parts.append(gust.gust_label if vi else _label_en(gust.gust_label))
    if facts.get("gust_rule"):
        # A gust rule speaks of the gust first and under its own tag: beside the wind rule of
        # the same station it is not the same line twice (issue 11's demo).
        body = f"{name}: {', '.join(reversed(parts))}"
        if signal.level == 0:
            return Message("[GIÓ GIẬT ĐÃ GIẢM]" if vi else "[GUSTS EASED]", name, body)
        return Message("[GIÓ GIẬT MẠNH]" if vi else "[STRONG GUSTS]", name, body)
    body = f"{name}: {', '.join(parts)}"
    if signal.level == 0:
        return Message("[GIÓ ĐÃ GIẢM]" if vi else "[WIND EASED]", name, body)
    return Message("[GIÓ MẠNH]" if vi else "[STRONG WIND]", name, body)


def _index(signal: Signal, lang: Language) -> Message:
    facts = signal.facts
    vi = lang is Language.VI
    name = str(facts.get("station_name", ""))
    index = str(facts.get("index", "VN_AQI"))
    air = index == "VN_AQI"
    category = str(facts.get("category", ""))
    if not vi:
        category = (AQI_EN if air else WQI_EN).get(category, category)
    value = round_half_up(float(signal.value if signal.value is not None else 0.0))
    body = f"{name}: {index} {value} ({category})"
    if signal.level == 0:
        if vi:
            tag = "[KHÔNG KHÍ ĐÃ CẢI THIỆN]" if air else "[CHẤT LƯỢNG NƯỚC ĐÃ CẢI THIỆN]"
        else:
            tag = "[AIR QUALITY IMPROVED]" if air else "[WATER QUALITY IMPROVED]"
        return Message(tag, name, body)
    if vi:
        tag = "[KHÔNG KHÍ]" if air else "[CHẤT LƯỢNG NƯỚC]"
    else:
        tag = "[AIR QUALITY]" if air else "[WATER QUALITY]"
    if air and facts.get("dominant_label"):
        body += f" — {facts['dominant_label']}"
    return Message(tag, name, body)


def _deadman(signal: Signal, lang: Language) -> Message:
    facts = signal.facts
    vi = lang is Language.VI
    station = _station(facts, lang)
    when = vi_time(signal.ts)
    if signal.level == 0:
        # The recovery says what it recovers from, so it reads right on its own.
        down = _time(facts, "outage_since")
        offline = facts.get("outage_reason") == "offline"
        if vi:
            text = f"{station} gửi số liệu trở lại lúc {when}"
            if down:
                text += f" ({'mất kết nối' if offline else 'không có số liệu'} từ {down})"
            return Message("[CÓ TÍN HIỆU TRỞ LẠI]", station, text)
        text = f"{station} reporting again at {when}"
        if down:
            text += f" ({'offline' if offline else 'no data'} since {down})"
        return Message("[DATA BACK]", station, text)
    since = _time(facts, "since")
    label = facts.get("param_label")
    if facts.get("reason") == "offline":
        if vi:
            text = f"{station} mất kết nối" + (f" từ {since}" if since else "")
        else:
            text = f"{station} offline" + (f" since {since}" if since else "")
        return Message("[MẤT TÍN HIỆU]" if vi else "[NO DATA]", station, text)
    if vi:
        what = "số liệu" + (f" {_lower_first(str(label))}" if label else "")
        text = f"{station} không gửi {what} từ {since}" if since else f"{station} chưa gửi {what}"
    else:
        what = f"{_param(facts, signal.param, lang)} data" if label else "data"
        text = (
            f"{station} has sent no {what} since {since}"
            if since
            else f"{station} has not sent any {what} yet"
        )
    return Message("[MẤT TÍN HIỆU]" if vi else "[NO DATA]", station, text)


TEMPLATES: Mapping[str, Callable[[Signal, Language], Message]] = {
    "threshold": _threshold,
    "trend": _trend,
    "accumulation": _rain,
    "index": _index,
    "wind": _wind,
    "deadman": _deadman,
}
_BY_KIND = {
    AlertKind.FLOOD: _threshold,
    AlertKind.RAIN: _rain,
    AlertKind.STORM: _wind,
    AlertKind.AIR: _index,
    AlertKind.WATER: _threshold,
    AlertKind.STATION: _deadman,
}


def render(signal: Signal, language: Language | str = Language.VI) -> Message:
    """The message of one signal, by its rule type (``facts["rule_type"]``), else its kind."""
    lang = Language(language)
    template = TEMPLATES.get(str(signal.facts.get("rule_type", ""))) or _BY_KIND[signal.kind]
    message = template(signal, lang)
    if signal.facts.get("reminder"):
        # A reminder says so first, then the incident as it is now (its current value and
        # time: alerting.routing refreshes the facts), not the first message again (issue 11).
        tag = REMINDER_TAG[lang]
        return Message(f"{tag} {message.tag}", message.subject, message.body)
    return message


REMINDER_TAG = {Language.VI: "[NHẮC LẠI]", Language.EN: "[REMINDER]"}


GROUP_TAGS = {
    AlertKind.FLOOD: ("[BÁO ĐỘNG LŨ]", "[FLOOD ALARM]"),
    AlertKind.RAIN: ("[MƯA LỚN]", "[HEAVY RAIN]"),
    AlertKind.STORM: ("[GIÓ MẠNH]", "[STRONG WIND]"),
    AlertKind.AIR: ("[KHÔNG KHÍ]", "[AIR QUALITY]"),
    AlertKind.WATER: ("[CHẤT LƯỢNG NƯỚC]", "[WATER QUALITY]"),
    AlertKind.STATION: ("[MẤT TÍN HIỆU]", "[NO DATA]"),
}


def render_group(signals: Sequence[Signal], language: Language | str = Language.VI) -> Message:
    """Several stations in one message (one storm, ten gauges): one title, one line a station,
    the worst first. Lines drop their tag when all share it; otherwise each keeps its own."""
    if not signals:
        raise ValueError("render_group needs at least one signal")
    lang = Language(language)
    ordered = sorted(signals, key=lambda s: (-s.severity, -s.level))
    # The same message twice (two rules of one station saying the same) says nothing more.
    messages = list(dict.fromkeys(render(s, lang) for s in ordered))
    if len(messages) == 1:
        return messages[0]
    tags = {m.tag for m in messages}
    if len(tags) == 1:
        tag = messages[0].tag
        lines = [m.body for m in messages]
    else:
        kinds = {s.kind for s in ordered}
        if len(kinds) == 1:
            vi_tag, en_tag = GROUP_TAGS[ordered[0].kind]
        else:
            vi_tag, en_tag = "[CẢNH BÁO]", "[WARNINGS]"
        tag = vi_tag if lang is Language.VI else en_tag
        lines = [m.text for m in messages]
    count = len({s.station for s in ordered})
    subject = f"{count} trạm" if lang is Language.VI else f"{count} stations"
    if count == 1:  # two rules of one station (the wind and its gust): the station's name
        subject = messages[0].subject
    return Message(tag, subject, "\n".join(f"- {line}" for line in lines))


def render_texts(signals: Sequence[Signal]) -> tuple[str, str, str]:
    """(title, Vietnamese text, English text) of one signal or a group: what a Notification
    carries. A group's text is its title, then one line per station."""
    if len({render(s, Language.VI) for s in signals}) == 1:  # one signal, or one said twice
        vi, en = render(signals[0], Language.VI), render(signals[0], Language.EN)
        return vi.title, vi.text, en.text
    vi, en = render_group(signals, Language.VI), render_group(signals, Language.EN)
    return vi.title, f"{vi.title}\n{vi.body}", f"{en.title}\n{en.body}"
