"""The reports' pure figures, by tables: periods, limits and their averaging windows, level
crossings, completeness, warnings, the largest 24-hour rain, the Vietnamese cells."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from alerting.incidents import Incident, IncidentState
from alerting.model import AlertKind, DeliveryStatus, Severity
from alerting.notifiers.log import LogEntry
from collector.indices import RainInterval
from gateway.model import VIETNAM_TZ, DeviceStatus, Quality, Reading
from quantrac.dashboards.standards import Limit
from quantrac.reports.figures.air import air_exceedances, exceedance
from quantrac.reports.figures.hydromet import crossings, largest_24h
from quantrac.reports.figures.quality import series_quality
from quantrac.reports.figures.warnings import warnings
from quantrac.reports.period import ReportKind, ReportPeriod
from quantrac.reports.tables import Cells

DAY = date(2025, 10, 28)
OLD = date(2025, 10, 26)
PERIOD = ReportPeriod.daily(DAY)
H = timedelta(hours=1)


def local(hh: int, mm: int = 0, day: date = DAY) -> datetime:
    return datetime(day.year, day.month, day.day, tzinfo=VIETNAM_TZ) + timedelta(
        hours=hh, minutes=mm
    )


def hourly(
    values: list[float | None], first_end: datetime | None = None
) -> list[tuple[datetime, float]]:
    """Hourly means stamped with their hour's end, from 01:00 of DAY (None: no mean)."""
    start = first_end or local(1)
    return [(start + k * H, v) for k, v in enumerate(values) if v is not None]


# -- periods ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("kind", "day", "first", "last", "hours"),
    [
        (ReportKind.DAILY, date(2025, 10, 28), date(2025, 10, 28), date(2025, 10, 28), 24),
        (ReportKind.MONTHLY, date(2025, 10, 28), date(2025, 10, 1), date(2025, 10, 31), 744),
        (ReportKind.MONTHLY, date(2028, 2, 10), date(2028, 2, 1), date(2028, 2, 29), 696),
        (ReportKind.MONTHLY, date(2025, 12, 31), date(2025, 12, 1), date(2025, 12, 31), 744),
    ],
)
def test_periods(kind: ReportKind, day: date, first: date, last: date, hours: int) -> None:
    period = ReportPeriod.of(kind, day)
    assert (period.first, period.last, len(period.hour_ends)) == (first, last, hours)
    # A local day starts at 17:00 UTC the day before (UTC+7, no daylight saving).
    assert period.start == datetime(first.year, first.month, first.day, tzinfo=UTC) - 7 * H


@pytest.mark.parametrize(
    ("now", "kind", "slug"),
    [
        (local(7), ReportKind.DAILY, "2025-10-27"),  # at 07:00: yesterday
        (datetime(2025, 10, 27, 23, 30, tzinfo=UTC), ReportKind.DAILY, "2025-10-27"),  # 06:30 on 28
        (datetime(2025, 11, 1, 7, tzinfo=VIETNAM_TZ), ReportKind.MONTHLY, "2025-10"),
        (datetime(2026, 1, 1, 7, tzinfo=VIETNAM_TZ), ReportKind.MONTHLY, "2025-12"),
    ],
)
def test_previous_period(now: datetime, kind: ReportKind, slug: str) -> None:
    assert ReportPeriod.previous(kind, now).slug == slug


@given(st.dates(min_value=date(2000, 1, 1), max_value=date(2100, 12, 31)))
def test_a_month_holds_its_days_and_nothing_else(day: date) -> None:
    month = ReportPeriod.monthly(day)
    assert month.first <= day <= month.last
    assert month.first.day == 1
    assert (month.last + timedelta(days=1)).day == 1
    assert month.duration == timedelta(days=len(month.days))
    assert month.contains(ReportPeriod.daily(day).start)
    assert not month.contains(month.end)


# -- limits ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("limit", "means", "exceeded", "worst"),
    [
        (Limit(200, "1 giờ"), [150, 200, 200.1, 250], 2, 250),  # at the limit complies
        (Limit(6.0, "", lower=True), [7.0, 6.0, 5.9, 5.0], 2, 5.0),  # a floor: below is out
        (Limit(200, "1 giờ"), [], 0, None),  # nothing judged: not "compliant", just none
    ],
)
def test_exceedance_of_a_limit(
    limit: Limit, means: list[float], exceeded: int, worst: float | None
) -> None:
    found = exceedance("x", "X", limit, hourly(list(means)))
    assert (found.evaluated, found.exceeded, found.worst) == (len(means), exceeded, worst)


def test_eight_hour_windows_need_all_their_hours() -> None:
    # O3 at 130 µg/m³ for 10 hours with a hole at the 5th: no 8-hour window is whole until
    # the hole is 8 hours behind.
    o3 = [130.0] * 4 + [None] + [130.0] * 13
    (eight, one) = air_exceedances({"o3": hourly(o3)}, PERIOD)
    # Whole windows end at 13:00 … 18:00 (06:00–13:00 … 11:00–18:00): 6.
    assert (eight.averaging, eight.evaluated, eight.exceeded) == ("8 giờ", 6, 6)
    assert (one.averaging, one.evaluated, one.exceeded) == ("1 giờ", 17, 0)


@pytest.mark.parametrize(("hours", "judged"), [(24, 1), (18, 1), (17, 0)])
def test_a_day_mean_needs_18_hours(hours: int, judged: int) -> None:
    (day_limit,) = air_exceedances({"pm25": hourly([60.0] * hours)}, PERIOD)
    assert (day_limit.evaluated, day_limit.exceeded) == (judged, judged)


# -- crossings ---------------------------------------------------------------------------------


def levels(*values: float, start: datetime | None = None) -> list[Reading]:
    first = start or local(0)
    return [
        Reading("kim_long", "water_level", v, "m", first + k * timedelta(minutes=5))
        for k, v in enumerate(values)
    ]


@pytest.mark.parametrize(
    ("values", "expected"),
    [
        ((0.5, 0.9, 1.0, 1.2, 0.99, 0.8), [(1, 2, 4)]),  # reaching BĐ I counts; back below
        ((1.5, 2.1, 1.0, 0.5), [(1, None, 3), (2, 1, 2)]),  # began above BĐ I
        ((0.5, 1.1, 0.9, 1.1), [(1, 1, 2), (1, 3, None)]),  # twice; still above at the end
        ((0.5, 0.6), []),
        ((0.999_6, 1.000_4), [(1, None, None)]),  # a gauge reads to the mm: 0.9996 is 1.000
    ],
)
def test_level_crossings(
    values: tuple[float, ...], expected: list[tuple[int, int | None, int | None]]
) -> None:
    series = levels(*values)

    def index(moment: datetime | None) -> int | None:
        return None if moment is None else series.index(next(r for r in series if r.ts == moment))

    found = [
        (c.level, index(c.up_at), index(c.down_at)) for c in crossings(series, (1.0, 2.0, 3.5))
    ]
    assert sorted(found, key=lambda c: (c[0], c[1] or -1)) == sorted(
        expected, key=lambda c: (c[0], c[1] or -1)
    )


def test_bad_levels_are_not_crossings() -> None:
    series = levels(0.5, 5.0, 0.5)
    flagged = [series[0], series[1].flagged(Quality.BAD, "status"), series[2]]
    assert crossings(flagged, (1.0, 2.0, 3.5)) == []


# -- completeness --------------------------------------------------------------------------------


def test_completeness_counts_each_timestamp_once() -> None:
    ts = [local(0) + k * timedelta(minutes=5) for k in range(144)]  # half a day
    readings = [Reading("s", "pm25", 1.0, "µg/m³", t) for t in ts]
    readings[100] = readings[100].flagged(Quality.SUSPECT, "spike")
    readings[101] = readings[101].flagged(Quality.BAD, "range")
    readings += readings[:10]  # re-sent
    q = series_quality("s", "pm25", readings, PERIOD, timedelta(minutes=5))
    assert (q.received, q.expected) == (144, 288)
    assert q.completeness == 0.5
    assert (q.suspect, q.bad) == (1, 1)


def test_a_station_sending_on_its_own_has_its_interval_inferred() -> None:
    readings = [Reading("s", "cod", 1.0, "mg/L", local(0) + k * 15 * timedelta(minutes=1))
                for k in range(48)]  # fmt: skip
    q = series_quality("s", "cod", readings, PERIOD, None)
    assert (q.expected, q.inferred, q.completeness) == (96, True, 0.5)
    assert series_quality("s", "cod", readings[:1], PERIOD, None).completeness is None


def test_faster_than_expected_is_complete() -> None:
    readings = [
        Reading("s", "x", 1.0, "m", local(0) + k * timedelta(minutes=1)) for k in range(1440)
    ]
    assert series_quality("s", "x", readings, PERIOD, timedelta(minutes=5)).completeness == 1.0


# -- warnings ----------------------------------------------------------------------------------


def incident(
    rule: str, start: datetime, end: datetime | None, acked: datetime | None, peak: int
) -> Incident:
    return Incident(
        id=f"{rule}:kim_long", rule=rule, station="kim_long", kind=AlertKind.FLOOD,
        state=IncidentState.RESOLVED if end else IncidentState.FIRING, level=0 if end else peak,
        severity=Severity.WARNING, started_at=start, updated_at=end or start, resolved_at=end,
        acked_at=acked, acked_by="a" if acked else None, peak_level=peak,
    )  # fmt: skip


def entry(
    n: int, key: str, status: DeliveryStatus, at: datetime, exhausted: bool = False
) -> LogEntry:
    return LogEntry(n, at, "sms", "8490", "", key, "", 1, status, exhausted, "", "")


def test_warnings_by_level_and_channel() -> None:
    found = warnings(
        [
            incident("a", local(1), local(3), local(1, 20), 2),
            incident("b", local(5), None, local(5, 10), 3),
            incident("c", local(20, day=date(2025, 10, 27)), local(2), None, 1),  # began before
            incident(
                "d", local(1, day=date(2025, 10, 26)), local(3, day=date(2025, 10, 26)), None, 1
            ),
        ],
        [
            entry(1, "k1", DeliveryStatus.SENT, local(1)),
            entry(2, "k1", DeliveryStatus.SENT, local(1, 1)),  # the same again: one message
            entry(3, "k2", DeliveryStatus.RETRY, local(2), exhausted=True),
            entry(4, "k2", DeliveryStatus.SENT, local(2, 30)),  # made good: no failure
            entry(5, "k3", DeliveryStatus.FAILED, local(3)),
            entry(6, "report:gw:daily:2025-10-27", DeliveryStatus.SENT, local(7)),
            entry(7, "k4", DeliveryStatus.SENT, local(1, day=date(2025, 10, 29))),  # after
        ],
        PERIOD,
    )
    assert [(k.value, lv, n) for k, lv, n in found.by_kind_level] == [
        ("flood", 1, 1),
        ("flood", 2, 1),
        ("flood", 3, 1),
    ]
    assert [(c.channel, c.sent, c.failed) for c in found.channels] == [("sms", 2, 1)]
    assert found.ack_delays == (timedelta(minutes=20), timedelta(minutes=10))
    assert found.median_ack == timedelta(minutes=15)
    assert found.unacked == 0  # "c" began the day before: its acknowledgement is not this day's


# -- rain ----------------------------------------------------------------------------------------


def test_largest_24h_total_at_full_hours() -> None:
    # 10 mm an hour from 06:00 to 12:00 on DAY, each hour its own interval, nothing missing.
    start = local(0, day=date(2025, 10, 27))
    intervals = [
        RainInterval(start + k * H, start + (k + 1) * H, 10.0 if 30 <= k < 36 else 0.0)
        for k in range(48)
    ]
    total, at = largest_24h(intervals, PERIOD)
    assert total == 60.0
    assert at == local(12)
    # 6 hours unknown on DAY before the rain: a window that misses more than 10 % has no
    # total, so the 60 mm are in none; the largest is the dry one ending at 01:00.
    gap = [i for k, i in enumerate(intervals) if not 24 <= k < 30]
    assert largest_24h(gap, PERIOD) == (0.0, local(1))


# -- cells ---------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("moment", "text"),
    [(local(24), "24:00 28/10"), (local(15), "15:00 28/10"), (local(0, 5), "00:05 28/10")],
)
def test_an_hour_is_written_as_officers_count_it(moment: datetime, text: str) -> None:
    assert Cells(VIETNAM_TZ).hour_end(moment).text == text


@pytest.mark.parametrize(
    ("value", "decimals", "text"),
    [(59.16840277, 1, "59,2"), (2556.57, 1, "2.556,6"), (0.475, 2, "0,48"), (None, 1, "—")],
)
def test_numbers_in_vietnamese(value: float | None, decimals: int, text: str) -> None:
    cell = Cells(VIETNAM_TZ).number(value, decimals)
    assert cell.text == text
    assert cell.value == value


def test_status_is_not_a_figure() -> None:  # DeviceStatus stays the device's; QC judges
    reading = Reading("s", "x", 1.0, "m", local(1), status=DeviceStatus.ERROR, quality=Quality.BAD)
    q = series_quality("s", "x", [reading], PERIOD, timedelta(hours=1))
    assert (q.bad, q.completeness) == (1, 1 / 24)
